//! The app's functions as the gateway calls them: one runtime per function behind a
//! pointer that can be swapped, so that a new version of a function replaces the old one
//! without failing or mixing requests (`up --watch`, later deploys).
//!
//! A request takes the function's current runtime when it arrives and finishes on it; a
//! replacement starts the new runtime first, swaps the pointer, then drains the old one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use serverful_gateway as gateway;
use serverful_runtime as runtime;

/// Extra time an old version gets, past its function's timeout, to finish in-flight work.
const DRAIN_MARGIN: Duration = Duration::from_secs(2);

pub(crate) struct Functions {
    current: RwLock<HashMap<String, Arc<runtime::Runtime>>>,
    /// Old versions still finishing their requests; shut down with the server.
    retiring: Mutex<Vec<Arc<runtime::Runtime>>>,
    options: runtime::RuntimeOptions,
}

impl Functions {
    /// Validates and registers every function; nothing starts until the first request.
    /// Returns the runtime's warnings, or the first function's error.
    pub(crate) fn new(
        configs: Vec<runtime::FunctionConfig>,
        options: runtime::RuntimeOptions,
    ) -> Result<(Functions, Vec<String>), runtime::RuntimeError> {
        let mut current = HashMap::new();
        let mut all_warnings = Vec::new();
        for config in configs {
            let name = config.name.clone();
            let (function_runtime, warnings) =
                runtime::Runtime::new(vec![config], options.clone())?;
            all_warnings.extend(warnings);
            current.insert(name, Arc::new(function_runtime));
        }
        let functions = Functions {
            current: RwLock::new(current),
            retiring: Mutex::new(Vec::new()),
            options,
        };
        Ok((functions, all_warnings))
    }

    /// Sets up a sandbox ahead of every function's first cold start and waits for them.
    pub(crate) async fn park_sandboxes(&self) {
        let all: Vec<_> = {
            let current = self
                .current
                .read()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            current.values().cloned().collect()
        };
        let tasks: Vec<_> = all
            .into_iter()
            .map(|function_runtime| {
                tokio::spawn(async move { function_runtime.park_sandboxes().await })
            })
            .collect();
        for task in tasks {
            let _ = task.await;
        }
        if let Some(sandbox) = &self.options.sandbox {
            sandbox.settle().await;
        }
    }

    fn runtime_of(&self, function: &str) -> Option<Arc<runtime::Runtime>> {
        let current = self
            .current
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        current.get(function).cloned()
    }

    pub(crate) async fn invoke(
        &self,
        function: &str,
        event: Bytes,
    ) -> Result<Bytes, runtime::InvokeError> {
        let Some(function_runtime) = self.runtime_of(function) else {
            return Err(runtime::InvokeError::NoSuchFunction(function.to_string()));
        };
        match function_runtime.invoke(function, event.clone()).await {
            // The version this request picked retired before the request reached it: the
            // request never ran, so it goes to the version that replaced it.
            Err(runtime::InvokeError::ShuttingDown) => match self.runtime_of(function) {
                Some(newer) if !Arc::ptr_eq(&newer, &function_runtime) => {
                    newer.invoke(function, event).await
                }
                _ => Err(runtime::InvokeError::ShuttingDown),
            },
            outcome => outcome,
        }
    }

    /// Whether `function` runs as a web server (HTTP mode) rather than over the Runtime API.
    pub(crate) fn is_http_mode(&self, function: &str) -> bool {
        self.runtime_of(function)
            .is_some_and(|function_runtime| function_runtime.is_http_mode(function))
    }

    /// For an HTTP-mode function, a ready instance to proxy one request to; `None` for a
    /// Lambda-mode function. Like [`Functions::invoke`], a request that picked a version
    /// retiring under it goes to the version that replaced it.
    pub(crate) async fn http_lease(
        &self,
        function: &str,
    ) -> Result<Option<runtime::HttpLease>, runtime::InvokeError> {
        let Some(function_runtime) = self.runtime_of(function) else {
            return Err(runtime::InvokeError::NoSuchFunction(function.to_string()));
        };
        match function_runtime.http_lease(function).await {
            Err(runtime::InvokeError::ShuttingDown) => match self.runtime_of(function) {
                Some(newer) if !Arc::ptr_eq(&newer, &function_runtime) => {
                    newer.http_lease(function).await
                }
                _ => Err(runtime::InvokeError::ShuttingDown),
            },
            outcome => outcome,
        }
    }

    /// Replaces a function with a new version: new requests go to the new version at
    /// once; the old one finishes what it has (up to its timeout) in the background and
    /// stops. Returns the new version's warnings; on error the old version keeps serving.
    pub(crate) fn replace(
        self: &Arc<Self>,
        config: runtime::FunctionConfig,
    ) -> Result<Vec<String>, runtime::RuntimeError> {
        let name = config.name.clone();
        let grace = config.timeout + DRAIN_MARGIN;
        let (function_runtime, warnings) =
            runtime::Runtime::new(vec![config], self.options.clone())?;
        let old = {
            let mut current = self
                .current
                .write()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let function_runtime = Arc::new(function_runtime);
            let parking = function_runtime.clone();
            tokio::spawn(async move { parking.park_sandboxes().await });
            current.insert(name.clone(), function_runtime)
        };
        if let Some(old) = old {
            self.retiring
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .push(old.clone());
            let functions = self.clone();
            tokio::spawn(async move {
                let left = old.drain(grace).await;
                if left > 0 {
                    tracing::warn!("{name}: the old version still had {left} requests after {grace:?}; they were stopped");
                }
                let mut retiring = functions
                    .retiring
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                retiring.retain(|runtime| !Arc::ptr_eq(runtime, &old));
            });
        }
        Ok(warnings)
    }

    /// Stops every function process.
    pub(crate) async fn shutdown(&self) {
        let mut all: Vec<_> = {
            let current = self
                .current
                .read()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            current.values().cloned().collect()
        };
        all.extend(
            self.retiring
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .iter()
                .cloned(),
        );
        for function_runtime in all {
            function_runtime.shutdown().await;
        }
    }
}

/// The gateway invokes functions through the registry. `up` runs one stack, so the stack
/// a [`gateway::FunctionRef`] names is not checked; it has no versions, so a qualified
/// reference names no function.
pub(crate) struct GatewayInvoker(pub(crate) Arc<Functions>);

impl GatewayInvoker {
    /// The function's logical id, when the reference can name a function here.
    fn logical_id(function: &gateway::FunctionRef) -> Result<String, gateway::InvokeError> {
        match function.qualifier {
            None => Ok(function.function.to_string()),
            Some(_) => Err(gateway::InvokeError::NoSuchFunction(function.to_string())),
        }
    }
}

impl gateway::Invoke for GatewayInvoker {
    fn invoke(
        &self,
        function: &gateway::FunctionRef,
        event: Bytes,
    ) -> BoxFuture<'static, Result<Bytes, gateway::InvokeError>> {
        let functions = self.0.clone();
        let logical_id = GatewayInvoker::logical_id(function);
        Box::pin(async move {
            functions
                .invoke(&logical_id?, event)
                .await
                .map_err(gateway_error)
        })
    }

    fn http_target(
        &self,
        function: &gateway::FunctionRef,
    ) -> BoxFuture<'static, Result<gateway::HttpTarget, gateway::InvokeError>> {
        let functions = self.0.clone();
        let logical_id = GatewayInvoker::logical_id(function);
        let name = function.to_string();
        Box::pin(async move {
            let Some(lease) = functions
                .http_lease(&logical_id?)
                .await
                .map_err(gateway_error)?
            else {
                return Err(gateway::InvokeError::Unavailable(format!(
                    "{name} takes events over the Runtime API, not proxied requests"
                )));
            };
            Ok(gateway::HttpTarget {
                address: lease.address(),
                remove_base_path: lease.remove_base_path().map(str::to_owned),
                timeout: lease.timeout(),
                lambda_context: Some(lease.lambda_context().to_owned()),
                guard: Box::new(LeaseGuard(lease)),
            })
        })
    }
}

/// The runtime's failure as the gateway shows it.
fn gateway_error(error: runtime::InvokeError) -> gateway::InvokeError {
    match error {
        runtime::InvokeError::FunctionError(payload) => {
            gateway::InvokeError::FunctionError(payload)
        }
        runtime::InvokeError::Timeout => gateway::InvokeError::Timeout,
        runtime::InvokeError::Throttled => gateway::InvokeError::Throttled,
        runtime::InvokeError::PayloadTooLarge => gateway::InvokeError::PayloadTooLarge,
        runtime::InvokeError::NoSuchFunction(name) => gateway::InvokeError::NoSuchFunction(name),
        runtime::InvokeError::ShuttingDown => {
            gateway::InvokeError::Unavailable("the server is shutting down".to_string())
        }
    }
}

/// A proxied request's hold on its instance, reported back to the runtime when it ends.
struct LeaseGuard(runtime::HttpLease);

impl gateway::ProxyGuard for LeaseGuard {
    fn finish(self: Box<Self>, outcome: gateway::ProxyOutcome) -> BoxFuture<'static, ()> {
        let outcome = match outcome {
            gateway::ProxyOutcome::Responded { status } => {
                runtime::HttpOutcome::Responded { status }
            }
            gateway::ProxyOutcome::TimedOut => runtime::HttpOutcome::TimedOut,
            gateway::ProxyOutcome::Failed(reason) => runtime::HttpOutcome::Failed(reason),
        };
        Box::pin(self.0.finish(outcome))
    }
}
