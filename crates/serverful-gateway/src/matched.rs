//! Which route answered a request, put into the response's extensions for layers around
//! the gateway (the binary's metrics) to read. It holds the route set the request was
//! routed in, so marking a response costs one reference count, and the names are only
//! read by a layer that wants them.

use std::sync::Arc;

use crate::route_set::RouteSet;

/// The API route that answered a request (a response without one matched no route).
#[derive(Clone, Debug)]
pub struct MatchedRoute {
    routes: Arc<RouteSet>,
    api_idx: usize,
    route_idx: usize,
}

impl MatchedRoute {
    pub(crate) fn new(routes: Arc<RouteSet>, api_idx: usize, route_idx: usize) -> MatchedRoute {
        MatchedRoute {
            routes,
            api_idx,
            route_idx,
        }
    }

    /// The stack the API belongs to.
    pub fn stack(&self) -> &str {
        &self.routes.api(self.api_idx).stack
    }

    /// The API's logical id.
    pub fn api(&self) -> &str {
        &self.routes.api(self.api_idx).logical_id
    }

    pub fn stage(&self) -> &str {
        &self.routes.api(self.api_idx).stage_name
    }

    /// The route key as API Gateway writes it: `GET /items/{id}`, `ANY /{proxy+}`, or
    /// `$default`.
    pub fn route_key(&self) -> String {
        let route = &self.routes.api(self.api_idx).routes[self.route_idx];
        if route.path == "$default" {
            route.path.clone()
        } else {
            format!("{} {}", route.method, route.path)
        }
    }
}
