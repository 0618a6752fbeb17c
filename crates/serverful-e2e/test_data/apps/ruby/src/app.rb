require 'json'
require 'logger'

LOGGER = Logger.new($stdout)

# Answers with what the function saw: the context, the event and its environment.
def lambda_handler(event:, context:)
  puts "context handler got #{event['rawPath'] || event['path']}"
  LOGGER.info('logged through Logger')
  {
    statusCode: 200,
    headers: { 'content-type' => 'application/json' },
    body: JSON.generate(
      requestId: context.aws_request_id,
      functionName: context.function_name,
      functionVersion: context.function_version,
      memoryLimitInMb: context.memory_limit_in_mb,
      logGroupName: context.log_group_name,
      logStreamName: context.log_stream_name,
      invokedFunctionArn: context.invoked_function_arn,
      deadlineMs: context.deadline_ms,
      remainingMs: context.get_remaining_time_in_millis,
      contextClass: context.class.name,
      id: event['pathParameters']['id'],
      color: event['queryStringParameters']['color'],
      body: JSON.parse(event['body']),
      greeting: ENV['GREETING'],
      executionEnv: ENV['AWS_EXECUTION_ENV'],
      traceId: ENV['_X_AMZN_TRACE_ID'],
      taskRoot: ENV['LAMBDA_TASK_ROOT'],
      gemPath: ENV['GEM_PATH'],
      rubyLib: ENV['RUBYLIB'],
      encoding: Encoding.default_external.name,
      rubyVersion: RUBY_VERSION
    )
  }
end
