//! Which API a request reaches, chosen by the host it came on, and the handle through which
//! the whole set of routes is swapped while the gateway serves.
//!
//! As on AWS, each API answers on its own host, `{api_id}.execute-api.{domain}`, and custom
//! domains map a host and a base path to an API (the longest matching base path wins, and
//! it is taken off the path before routing). Under `serverful up` every other host (the
//! bare `127.0.0.1:3000`) routes over all APIs together, as `sam local start-api` does.
//! Hosts compare case-insensitively and without their port.
//!
//! A [`RouteSet`] is compiled once and never changes; [`Routes`] points at the current one.
//! A request takes the current set when it arrives and keeps it to the end, so a swap is
//! atomic for every request: it sees the old routes or the new ones, never a mix.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use crate::routes::{RouteMatch, RouteTable, StagePrefix};
use crate::{ApiKind, ApiSpec, FunctionUrlSpec, RoutesSpec};

/// The routes the gateway serves: a cheap handle (clones share the set) whose set can be
/// replaced at once while requests run.
#[derive(Clone, Debug)]
pub struct Routes {
    current: Arc<RwLock<Arc<RouteSet>>>,
}

impl Routes {
    pub fn new(spec: RoutesSpec) -> Routes {
        Routes {
            current: Arc::new(RwLock::new(Arc::new(RouteSet::new(spec)))),
        }
    }

    /// Serves `spec` from now on. Requests that already took the old set finish with it;
    /// every request that starts after this returns sees the new one.
    pub fn replace(&self, spec: RoutesSpec) {
        // Compiled before the lock is taken, so requests never wait for the compilation.
        let set = Arc::new(RouteSet::new(spec));
        let old = {
            let mut current = self
                .current
                .write()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            std::mem::replace(&mut *current, set)
        };
        // Dropped outside the lock (by whoever holds the old set last).
        drop(old);
    }

    /// The set served now.
    pub fn current(&self) -> Arc<RouteSet> {
        self.current
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

/// Every route of every API, compiled for matching, with the hosts that reach each API.
#[derive(Debug)]
pub struct RouteSet {
    spec: RoutesSpec,
    /// Over all APIs, for requests on any other host; `None` unless `bare_host`.
    bare: Option<RouteTable>,
    /// One table per API, by index in `spec.apis`.
    api_tables: Vec<RouteTable>,
    /// `{api_id}.execute-api.{domain}`, lower case -> the table of every stage of that API
    /// (one `ApiSpec` each), and the index of its first in `spec.apis`.
    api_hosts: HashMap<String, (RouteTable, usize)>,
    /// Custom domain name, lower case -> its mappings, longest base path first.
    custom_domains: HashMap<String, Vec<Mapping>>,
    /// `{url_id}.lambda-url.{region}.{domain}`, lower case -> index in `spec.function_urls`.
    function_url_hosts: HashMap<String, usize>,
}

/// A function URL, for listings (`serverful up`'s banner).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionUrlListing {
    pub stack: String,
    /// The URL's logical id.
    pub logical_id: String,
    /// The function's logical id.
    pub function: String,
    /// `http://{url_id}.lambda-url.{region}.{domain}:{port}/`.
    pub url: String,
}

/// One base path of a custom domain.
#[derive(Debug)]
struct Mapping {
    /// Without leading or trailing `/`; empty maps the whole domain.
    base_path: String,
    api_idx: usize,
    stage: Option<String>,
}

/// Where a request goes, or the flavour of the API whose 404 it gets.
#[derive(Debug)]
pub(crate) enum Routed {
    Found(RouteMatch),
    NotFound(ApiKind),
}

/// A URL an API answers on, for listings (`serverful up`'s banner, `serverful ls`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiUrl {
    pub stack: String,
    /// The API's logical id.
    pub logical_id: String,
    pub api_id: String,
    /// `http://{api_id}.execute-api.{domain}:{port}/{stage}` (no stage for `$default`), or
    /// `http://{custom domain}:{port}/{base path}`.
    pub url: String,
    /// Whether `url` is on a custom domain rather than the API's own host.
    pub custom_domain: bool,
}

impl RouteSet {
    /// Compiles `spec`. An API id listed twice keeps its host for the first API; a custom
    /// domain mapping that names no API, or repeats a base path, is left out (each logged).
    pub fn new(spec: RoutesSpec) -> RouteSet {
        let domain = normalize_host(&spec.domain);
        // Each stage of an API is an `ApiSpec` of its own with the API's id: they share
        // the host, and the path's first segment picks the stage.
        let mut host_members: HashMap<String, Vec<usize>> = HashMap::new();
        for (api_idx, api) in spec.apis.iter().enumerate() {
            let host = api_host(&api.api_id, &domain);
            let members = host_members.entry(host.clone()).or_default();
            if let Some(&first_idx) = members.first() {
                let first: &ApiSpec = &spec.apis[first_idx];
                if first.stack != api.stack || first.logical_id != api.logical_id {
                    tracing::warn!(
                        "API {} of stack {} has the same id ({}) as API {} of stack {}; {host} reaches the latter",
                        api.logical_id,
                        api.stack,
                        api.api_id,
                        first.logical_id,
                        first.stack
                    );
                    continue;
                }
            }
            members.push(api_idx);
        }
        let api_hosts: HashMap<String, (RouteTable, usize)> = host_members
            .into_iter()
            .map(|(host, members)| {
                let first = members[0];
                let table = RouteTable::of(members.into_iter().map(|idx| (idx, &spec.apis[idx])));
                (host, (table, first))
            })
            .collect();

        let mut custom_domains: HashMap<String, Vec<Mapping>> = HashMap::new();
        for custom in &spec.custom_domains {
            // The mapping's stage, when it names one of the API's stages.
            let stage_of = |api: &ApiSpec| match &custom.stage {
                Some(stage) if !stage.is_empty() => api.stage_name == *stage,
                _ => true,
            };
            let api_idx = spec
                .apis
                .iter()
                .position(|api| api.api_id == custom.api_id && stage_of(api))
                .or_else(|| spec.apis.iter().position(|api| api.api_id == custom.api_id));
            let Some(api_idx) = api_idx else {
                tracing::warn!(
                    "custom domain {} maps to API id {}, which no stack has; left out",
                    custom.domain_name,
                    custom.api_id
                );
                continue;
            };
            let base_path = custom
                .base_path
                .as_deref()
                .unwrap_or_default()
                .trim_matches('/')
                .to_owned();
            let mappings = custom_domains
                .entry(normalize_host(&custom.domain_name))
                .or_default();
            if mappings
                .iter()
                .any(|mapping| mapping.base_path == base_path)
            {
                tracing::warn!(
                    "custom domain {} maps base path '{base_path}' twice; the first mapping keeps it",
                    custom.domain_name
                );
                continue;
            }
            mappings.push(Mapping {
                base_path,
                api_idx,
                stage: custom.stage.clone().filter(|stage| !stage.is_empty()),
            });
        }
        for mappings in custom_domains.values_mut() {
            mappings.sort_by_key(|mapping| std::cmp::Reverse(mapping.base_path.len()));
        }

        let api_tables = spec
            .apis
            .iter()
            .enumerate()
            .map(|(api_idx, api)| RouteTable::of([(api_idx, api)]))
            .collect();
        let bare = spec.bare_host.then(|| RouteTable::new(&spec.apis));
        let mut function_url_hosts = HashMap::new();
        for (url_idx, url) in spec.function_urls.iter().enumerate() {
            function_url_hosts
                .entry(function_url_host(&url.url_id, &url.region, &domain))
                .or_insert(url_idx);
        }
        RouteSet {
            spec,
            bare,
            api_tables,
            api_hosts,
            custom_domains,
            function_url_hosts,
        }
    }

    /// What the set was compiled from.
    pub fn spec(&self) -> &RoutesSpec {
        &self.spec
    }

    /// Every URL each API answers on, for a gateway listening on `port` over plain HTTP:
    /// its own host first, then its custom domains. The bare host is not listed.
    pub fn urls(&self, port: u16) -> Vec<ApiUrl> {
        let port = if port == 80 {
            String::new()
        } else {
            format!(":{port}")
        };
        let domain = normalize_host(&self.spec.domain);
        let mut mappings: Vec<(&String, &Mapping)> = self
            .custom_domains
            .iter()
            .flat_map(|(name, mappings)| mappings.iter().map(move |mapping| (name, mapping)))
            .collect();
        mappings.sort_by(|(a_name, a), (b_name, b)| {
            (a_name, &a.base_path).cmp(&(b_name, &b.base_path))
        });
        let mut urls = Vec::new();
        for (api_idx, api) in self.spec.apis.iter().enumerate() {
            let url = |url: String, custom_domain: bool| ApiUrl {
                stack: api.stack.clone(),
                logical_id: api.logical_id.clone(),
                api_id: api.api_id.clone(),
                url,
                custom_domain,
            };
            // The stage's invoke URL, as the console shows it.
            let stage = if api.stage_name.is_empty() || api.stage_name == "$default" {
                String::new()
            } else {
                format!("/{}", api.stage_name)
            };
            let host = api_host(&api.api_id, &domain);
            urls.push(url(format!("http://{host}{port}{stage}"), false));
            for (name, mapping) in &mappings {
                if mapping.api_idx != api_idx {
                    continue;
                }
                let base_path = if mapping.base_path.is_empty() {
                    String::new()
                } else {
                    format!("/{}", mapping.base_path)
                };
                urls.push(url(format!("http://{name}{port}{base_path}"), true));
            }
        }
        urls
    }

    /// Every function URL, for a gateway listening on `port` over plain HTTP.
    pub fn function_urls(&self, port: u16) -> Vec<FunctionUrlListing> {
        let port = if port == 80 {
            String::new()
        } else {
            format!(":{port}")
        };
        let domain = normalize_host(&self.spec.domain);
        self.spec
            .function_urls
            .iter()
            .map(|url| FunctionUrlListing {
                stack: url.stack.clone(),
                logical_id: url.logical_id.clone(),
                function: url.target.function.to_string(),
                url: format!(
                    "http://{}{port}/",
                    function_url_host(&url.url_id, &url.region, &domain)
                ),
            })
            .collect()
    }

    /// The function URL a request on `host` reaches, if any.
    pub(crate) fn function_url(&self, host: Option<&str>) -> Option<&FunctionUrlSpec> {
        let host = normalize_host(host?);
        let url_idx = *self.function_url_hosts.get(&host)?;
        Some(&self.spec.function_urls[url_idx])
    }

    pub(crate) fn api(&self, api_idx: usize) -> &ApiSpec {
        &self.spec.apis[api_idx]
    }

    /// The flavour of the 404 for a request that reached no API: REST's unless every API
    /// is an HTTP API.
    fn default_kind(&self) -> ApiKind {
        let apis = &self.spec.apis;
        if !apis.is_empty() && apis.iter().all(|api| api.kind == ApiKind::Http) {
            ApiKind::Http
        } else {
            ApiKind::Rest
        }
    }

    /// The API a request on `host` for `path` reaches whatever its method, and the methods
    /// its routes for that path take (a CORS preflight's question).
    pub(crate) fn resource(
        &self,
        host: Option<&str>,
        path: &str,
    ) -> Option<(&ApiSpec, Vec<String>)> {
        const METHODS: [&str; 6] = ["DELETE", "GET", "HEAD", "PATCH", "POST", "PUT"];
        let mut api_idx = None;
        let mut methods = Vec::new();
        for method in METHODS {
            if let Routed::Found(found) = self.route(host, method, path) {
                if api_idx.is_none_or(|first| first == found.api_idx) {
                    api_idx = Some(found.api_idx);
                    methods.push(method.to_owned());
                }
            }
        }
        Some((&self.spec.apis[api_idx?], methods))
    }

    /// Routes a request that came on `host` (the `Host` header: a name or address, with or
    /// without a port) for `method` and the raw `path`.
    pub(crate) fn route(&self, host: Option<&str>, method: &str, path: &str) -> Routed {
        let host = host.map(normalize_host).unwrap_or_default();
        if let Some((table, first_idx)) = self.api_hosts.get(&host) {
            return match table.find(method, path) {
                Some(found) => Routed::Found(found),
                None => Routed::NotFound(self.spec.apis[*first_idx].kind),
            };
        }
        if let Some(mappings) = self.custom_domains.get(&host) {
            let Some((mapping, rest)) = mappings.iter().find_map(|mapping| {
                strip_base_path(path, &mapping.base_path).map(|rest| (mapping, rest))
            }) else {
                return Routed::NotFound(self.default_kind());
            };
            // A mapping without a stage serves the API's stage, and the path may name it.
            let stage_prefix = match mapping.stage {
                Some(_) => StagePrefix::None,
                None => StagePrefix::Allowed,
            };
            let table = &self.api_tables[mapping.api_idx];
            return match table.find_with(method, rest, stage_prefix) {
                Some(found) => Routed::Found(RouteMatch {
                    stage: mapping.stage.clone(),
                    via_custom_domain: true,
                    ..found
                }),
                None => Routed::NotFound(self.spec.apis[mapping.api_idx].kind),
            };
        }
        let found = self
            .bare
            .as_ref()
            .and_then(|table| table.find(method, path));
        match found {
            Some(found) => Routed::Found(found),
            None => Routed::NotFound(self.default_kind()),
        }
    }
}

/// The host an API answers on.
fn api_host(api_id: &str, domain: &str) -> String {
    format!("{}.execute-api.{domain}", api_id.to_ascii_lowercase())
}

/// The host a function URL answers on.
fn function_url_host(url_id: &str, region: &str, domain: &str) -> String {
    format!(
        "{}.lambda-url.{}.{domain}",
        url_id.to_ascii_lowercase(),
        region.to_ascii_lowercase()
    )
}

/// A host as compared: lower case, without its port or a trailing dot.
fn normalize_host(host: &str) -> String {
    let host = host.trim();
    let without_port = if host.starts_with('[') {
        // `[::1]:3000`: the address ends at the bracket.
        host.split_inclusive(']').next().unwrap_or(host)
    } else {
        match host.rsplit_once(':') {
            Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
            _ => host,
        }
    };
    without_port.trim_end_matches('.').to_ascii_lowercase()
}

/// The rest of `path` when it starts with the whole segments of `base_path` (`/` when
/// nothing is left); `None` when it does not.
fn strip_base_path<'p>(path: &'p str, base_path: &str) -> Option<&'p str> {
    if base_path.is_empty() {
        return Some(path);
    }
    match path.strip_prefix('/')?.strip_prefix(base_path)? {
        "" => Some("/"),
        rest if rest.starts_with('/') => Some(rest),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_compare_without_port_and_case() {
        assert_eq!(
            normalize_host("ABC.Execute-Api.localhost:3000"),
            "abc.execute-api.localhost"
        );
        assert_eq!(normalize_host("example.com."), "example.com");
        assert_eq!(normalize_host("[::1]:3000"), "[::1]");
        assert_eq!(normalize_host("127.0.0.1"), "127.0.0.1");
    }

    #[test]
    fn base_paths_are_whole_segments() {
        assert_eq!(strip_base_path("/v1/items", "v1"), Some("/items"));
        assert_eq!(strip_base_path("/v1", "v1"), Some("/"));
        assert_eq!(strip_base_path("/v1/", "v1"), Some("/"));
        assert_eq!(strip_base_path("/v10/items", "v1"), None);
        assert_eq!(strip_base_path("/orders/v2/x", "orders/v2"), Some("/x"));
        assert_eq!(strip_base_path("/items", ""), Some("/items"));
    }
}
