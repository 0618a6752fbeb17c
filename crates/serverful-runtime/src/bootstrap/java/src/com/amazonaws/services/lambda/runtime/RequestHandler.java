package com.amazonaws.services.lambda.runtime;

/**
 * Serverful's copy of the Lambda core library's {@code RequestHandler}: a handler whose
 * input and output are mapped from and to JSON by their types.
 *
 * @param <I> the event type
 * @param <O> the result type
 */
public interface RequestHandler<I, O> {
    O handleRequest(I input, Context context);
}
