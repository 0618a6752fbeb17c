//! The route table: which route of which API a request reaches, with API Gateway's precedence.
//!
//! Precedence, as API Gateway documents it for HTTP APIs and behaves for REST APIs: a route
//! must accept the request's method (exactly, or through `ANY`); among those, the most
//! specific path wins, comparing segment by segment from the left (a literal segment beats
//! a `{param}`, which beats a greedy `{proxy+}`); on equal paths an explicit method beats
//! `ANY`; `$default` only catches what nothing else matched. Across APIs served on the same
//! listener the same order applies, and the API listed first wins a tie.

use std::collections::BTreeMap;

use percent_encoding::percent_decode_str;

use crate::{ApiKind, ApiSpec, FunctionMode};

/// The route key of an HTTP API's catch-all route.
pub(crate) const DEFAULT_ROUTE: &str = "$default";

/// The methods API Gateway lets an `ANY` route stand for.
const ANY_METHODS: [&str; 7] = ["DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"];

/// The start-up listing: one line per route, e.g.
/// `GET http://127.0.0.1:3000/hello/{user} -> HelloFunction`, with ` (http mode)` after a
/// function the gateway proxies to.
///
/// `base_url` has no trailing slash. An HTTP API's `$default` route is shown as the greedy
/// path it acts as, marked `($default)`. Functions are named by logical id: a listing is
/// of one stack's APIs, or of one API (`route_lines(std::slice::from_ref(api), url)`).
pub fn route_lines(apis: &[ApiSpec], base_url: &str) -> Vec<String> {
    let base_url = base_url.trim_end_matches('/');
    let mut lines = Vec::new();
    for api in apis {
        for route in &api.routes {
            let function: &str = if route.mock.is_some() {
                "MOCK"
            } else {
                &route.target.function
            };
            let mut line = if route.path == DEFAULT_ROUTE {
                format!("ANY {base_url}/{{proxy+}} ($default) -> {function}")
            } else {
                format!("{} {base_url}{} -> {function}", route.method, route.path)
            };
            if route.mode == FunctionMode::Http {
                line.push_str(" (http mode)");
            }
            lines.push(line);
        }
    }
    lines
}

/// One segment of a route's path template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Param(String),
    /// `{name+}`: the rest of the path, one segment or more.
    Greedy(String),
}

impl Segment {
    /// Higher is more specific.
    fn rank(&self) -> u8 {
        match self {
            Segment::Literal(_) => 3,
            Segment::Param(_) => 2,
            Segment::Greedy(_) => 1,
        }
    }
}

#[derive(Debug)]
struct CompiledRoute {
    /// Index of the route's API in [`RouteTable::apis`].
    member_idx: usize,
    route_idx: usize,
    /// `None` for `ANY`.
    method: Option<String>,
    /// `None` for `$default`.
    segments: Option<Vec<Segment>>,
}

/// Where a request goes, with what the route extracted from its path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RouteMatch {
    /// Index of the API in the list the table was built from.
    pub(crate) api_idx: usize,
    pub(crate) route_idx: usize,
    /// Percent-decoded path parameters (`proxy` holds `a/b` for `/{proxy+}`).
    pub(crate) path_parameters: BTreeMap<String, String>,
    /// The request path as the API sees it: without the stage prefix or a custom domain's
    /// base path, still percent-encoded.
    pub(crate) api_path: String,
    /// The stage events report when it is not the API's own (a custom domain's mapping).
    pub(crate) stage: Option<String>,
    /// The request came on a custom domain: API Gateway then reports the path as the
    /// client sent it, base path included, in REST events (and proxies it so to web
    /// servers).
    pub(crate) via_custom_domain: bool,
}

/// One API of a table.
#[derive(Debug)]
struct TableApi {
    api_idx: usize,
    kind: ApiKind,
    /// The stage a path may start with (`/Prod/hello`), if the API has a named stage.
    stage_prefix: Option<String>,
}

/// Routes of one or more APIs, compiled for matching.
#[derive(Debug)]
pub(crate) struct RouteTable {
    routes: Vec<CompiledRoute>,
    apis: Vec<TableApi>,
}

/// Whether a request path may start with the API's stage name (`/Prod/hello`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StagePrefix {
    /// Tried without the stage first, then as it is: the execute-api host and the bare host.
    Allowed,
    /// The path is the resource path: a custom domain mapped to a stage.
    None,
}

/// How well a route matched, ordered so that the better match is greater.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Specificity {
    is_not_default: bool,
    segment_ranks: Vec<u8>,
    has_explicit_method: bool,
}

impl RouteTable {
    /// A table of every API in `apis`, in order (the first wins a tie).
    pub(crate) fn new(apis: &[ApiSpec]) -> RouteTable {
        RouteTable::of(apis.iter().enumerate())
    }

    /// A table of the APIs given with their indices, in order (the first wins a tie).
    pub(crate) fn of<'a>(apis: impl IntoIterator<Item = (usize, &'a ApiSpec)>) -> RouteTable {
        let mut routes = Vec::new();
        let mut members = Vec::new();
        for (member_idx, (api_idx, api)) in apis.into_iter().enumerate() {
            for (route_idx, route) in api.routes.iter().enumerate() {
                let method = route.method.to_ascii_uppercase();
                let is_default = api.kind == ApiKind::Http && route.path == DEFAULT_ROUTE;
                routes.push(CompiledRoute {
                    member_idx,
                    route_idx,
                    method: (method != "ANY" && !is_default).then_some(method),
                    segments: (!is_default).then(|| parse_template(&route.path)),
                });
            }
            let named = !api.stage_name.is_empty() && api.stage_name != "$default";
            members.push(TableApi {
                api_idx,
                kind: api.kind,
                stage_prefix: named.then(|| api.stage_name.clone()),
            });
        }
        RouteTable {
            routes,
            apis: members,
        }
    }

    /// The best route for `method` and the raw (percent-encoded, query-less) `path`, which
    /// may start with the API's stage.
    pub(crate) fn find(&self, method: &str, path: &str) -> Option<RouteMatch> {
        self.find_with(method, path, StagePrefix::Allowed)
    }

    /// The best route for `method` and `path`.
    pub(crate) fn find_with(
        &self,
        method: &str,
        path: &str,
        stage_prefix: StagePrefix,
    ) -> Option<RouteMatch> {
        if !path.starts_with('/') {
            // `OPTIONS *` and absolute-form targets name no resource.
            return None;
        }
        // A match on a path that began with the member's stage ranks above any match on
        // the whole path: `/dev/items` reaches the `dev` stage's `/items`, not another
        // stage's `/{proxy+}`.
        let mut best: Option<((bool, Specificity), RouteMatch)> = None;
        for (member_idx, member) in self.apis.iter().enumerate() {
            // A path that starts with the stage name is tried without it first; if that finds
            // nothing, the whole path is tried, for a resource that happens to begin with a
            // segment named like the stage.
            let stripped = match stage_prefix {
                StagePrefix::Allowed => strip_stage(member, path),
                StagePrefix::None => path,
            };
            let attempts = if stripped.len() == path.len() {
                vec![path]
            } else {
                vec![stripped, path]
            };
            let candidate = attempts.into_iter().find_map(|api_path| {
                let routes = self
                    .routes
                    .iter()
                    .filter(|route| route.member_idx == member_idx);
                let found = match member.kind {
                    ApiKind::Rest => find_rest(routes, method, api_path),
                    ApiKind::Http => find_http(routes, method, api_path),
                };
                found.map(|(specificity, route, parameters)| {
                    (specificity, route, parameters, api_path)
                })
            });
            let Some((specificity, route, path_parameters, api_path)) = candidate else {
                continue;
            };
            let specificity = (api_path.len() != path.len(), specificity);
            // Strictly greater: on a tie the API listed first keeps the request.
            if best
                .as_ref()
                .is_none_or(|(best_specificity, _)| specificity > *best_specificity)
            {
                let found = RouteMatch {
                    api_idx: member.api_idx,
                    route_idx: route.route_idx,
                    path_parameters,
                    api_path: api_path.to_owned(),
                    stage: None,
                    via_custom_domain: false,
                };
                best = Some((specificity, found));
            }
        }
        best.map(|(_, found)| found)
    }
}

/// `path` without the API's stage prefix, when it has one.
fn strip_stage<'p>(member: &TableApi, path: &'p str) -> &'p str {
    let Some(stage) = &member.stage_prefix else {
        return path;
    };
    match path[1..].strip_prefix(stage.as_str()) {
        Some("") => "/",
        Some(rest) if rest.starts_with('/') => rest,
        _ => path,
    }
}

type Candidate<'r> = (Specificity, &'r CompiledRoute, BTreeMap<String, String>);

fn accepts_method(route: &CompiledRoute, method: &str) -> bool {
    match &route.method {
        Some(route_method) => route_method == method,
        None => ANY_METHODS.contains(&method),
    }
}

/// The route's specificity and parameters if its path matches.
fn match_route<'r>(route: &'r CompiledRoute, api_path: &str) -> Option<Candidate<'r>> {
    let (segment_ranks, path_parameters) = match &route.segments {
        None => (Vec::new(), BTreeMap::new()),
        Some(segments) => {
            let parameters = match_segments(segments, api_path)?;
            (segments.iter().map(Segment::rank).collect(), parameters)
        }
    };
    let specificity = Specificity {
        is_not_default: route.segments.is_some(),
        segment_ranks,
        has_explicit_method: route.method.is_some(),
    };
    Some((specificity, route, path_parameters))
}

/// HTTP APIs choose among the routes that accept the method: `POST /pets/dog/1` reaches
/// `ANY /{proxy+}` even when `GET /pets/dog/{id}` exists, as API Gateway's routing example
/// shows.
fn find_http<'r>(
    routes: impl Iterator<Item = &'r CompiledRoute>,
    method: &str,
    api_path: &str,
) -> Option<Candidate<'r>> {
    let mut best: Option<Candidate<'r>> = None;
    for route in routes.filter(|route| accepts_method(route, method)) {
        let Some(candidate) = match_route(route, api_path) else {
            continue;
        };
        if best
            .as_ref()
            .is_none_or(|(best_specificity, _, _)| candidate.0 > *best_specificity)
        {
            best = Some(candidate);
        }
    }
    best
}

/// REST APIs resolve the resource first and the method second: when the most specific
/// resource lacks the method, the request fails instead of falling back to a less specific
/// resource (API Gateway answers 403 there; Serverful answers 404 like other missing routes).
fn find_rest<'r>(
    routes: impl Iterator<Item = &'r CompiledRoute>,
    method: &str,
    api_path: &str,
) -> Option<Candidate<'r>> {
    let matched: Vec<Candidate<'r>> = routes
        .filter_map(|route| match_route(route, api_path))
        .collect();
    let best_ranks = matched
        .iter()
        .map(|(specificity, _, _)| &specificity.segment_ranks)
        .max()?;
    // Routes with equal ranks that match the same path are the same resource.
    let on_resource = || {
        matched
            .iter()
            .filter(|(specificity, _, _)| specificity.segment_ranks == *best_ranks)
    };
    let explicit = on_resource().find(|(_, route, _)| route.method.as_deref() == Some(method));
    let any = || {
        on_resource().find(|(_, route, _)| route.method.is_none() && ANY_METHODS.contains(&method))
    };
    explicit.or_else(any).cloned()
}

fn parse_template(template: &str) -> Vec<Segment> {
    let trimmed = template.trim_start_matches('/');
    if trimmed.is_empty() {
        return Vec::new();
    }
    let parts: Vec<&str> = trimmed.split('/').collect();
    let n_parts = parts.len();
    parts
        .into_iter()
        .enumerate()
        .map(
            |(part_idx, part)| match part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                // API Gateway only allows a greedy variable last; elsewhere it can only be a name.
                Some(name) if name.ends_with('+') && part_idx + 1 == n_parts => {
                    Segment::Greedy(name.trim_end_matches('+').to_owned())
                }
                Some(name) => Segment::Param(name.trim_end_matches('+').to_owned()),
                None => Segment::Literal(part.to_owned()),
            },
        )
        .collect()
}

/// Matches the path's segments against a template, returning the decoded parameters.
fn match_segments(segments: &[Segment], path: &str) -> Option<BTreeMap<String, String>> {
    let without_slash = &path[1..];
    let all: Vec<&str> = if without_slash.is_empty() {
        Vec::new()
    } else {
        without_slash.split('/').collect()
    };
    // A single trailing slash names the same resource (`/hello/` is `/hello`), except for a
    // greedy variable, which keeps it in its value.
    let trimmed: &[&str] = match all.split_last() {
        Some((&"", rest)) => rest,
        _ => &all,
    };
    let mut parameters = BTreeMap::new();
    for (segment_idx, segment) in segments.iter().enumerate() {
        match segment {
            Segment::Greedy(name) => {
                let rest = all.get(segment_idx..)?.join("/");
                if rest.is_empty() || rest == "/" || trimmed.len() <= segment_idx {
                    return None;
                }
                parameters.insert(name.clone(), decode(&rest));
                return Some(parameters);
            }
            Segment::Literal(literal) => {
                let part = trimmed.get(segment_idx)?;
                if decode(part) != *literal {
                    return None;
                }
            }
            Segment::Param(name) => {
                let part = trimmed.get(segment_idx)?;
                if part.is_empty() {
                    return None;
                }
                parameters.insert(name.clone(), decode(part));
            }
        }
    }
    (trimmed.len() == segments.len()).then_some(parameters)
}

/// Percent-decodes a path piece; invalid UTF-8 becomes U+FFFD rather than an error.
pub(crate) fn decode(raw: &str) -> String {
    percent_decode_str(raw).decode_utf8_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use expect_test::{expect, Expect};

    use super::*;
    use crate::{FunctionRef, PayloadFormat, RouteSpec};

    fn api(kind: ApiKind, stage: &str, routes: &[(&str, &str)]) -> ApiSpec {
        ApiSpec {
            stack: "app".to_owned(),
            logical_id: "Api".to_owned(),
            api_id: "abcdefghij".to_owned(),
            kind,
            stage_name: stage.to_owned(),
            stage_variables: BTreeMap::new(),
            binary_media_types: Vec::new(),
            cors: None,
            authorizers: Vec::new(),
            api_keys: Default::default(),
            routes: routes
                .iter()
                .map(|(method, path)| RouteSpec {
                    method: (*method).to_owned(),
                    path: (*path).to_owned(),
                    target: FunctionRef::new("app", format!("{method} {path}")),
                    mode: if path.starts_with("/web") {
                        FunctionMode::Http
                    } else {
                        FunctionMode::Events
                    },
                    payload_format: PayloadFormat::V1,
                    auth: crate::RouteAuth::None,
                    mock: None,
                    validation: None,
                    api_key_required: false,
                })
                .collect(),
        }
    }

    /// Routes each request through the table and prints which route got it.
    fn check(apis: &[ApiSpec], requests: &[(&str, &str)], expect: Expect) {
        let table = RouteTable::new(apis);
        let mut out = String::new();
        for (method, path) in requests {
            let line = match table.find(method, path) {
                None => "404".to_owned(),
                Some(found) => {
                    let route = &apis[found.api_idx].routes[found.route_idx];
                    format!(
                        "api {} {} {} {:?} (api path {})",
                        found.api_idx,
                        route.method,
                        route.path,
                        found.path_parameters,
                        found.api_path
                    )
                }
            };
            out.push_str(&format!("{method} {path} => {line}\n"));
        }
        expect.assert_eq(&out);
    }

    #[test]
    fn literal_beats_param_beats_greedy() {
        let apis = [api(
            ApiKind::Http,
            "$default",
            &[
                ("ANY", "/{proxy+}"),
                ("GET", "/pets/{id}"),
                ("GET", "/pets/dog"),
                ("GET", "/pets/{id}/toys/{proxy+}"),
                ("GET", "/pets/dog/{proxy+}"),
                ("ANY", "$default"),
            ],
        )];
        check(
            &apis,
            &[
                ("GET", "/pets/dog"),
                ("GET", "/pets/cat"),
                ("GET", "/pets/dog/toys/ball"),
                ("GET", "/pets/cat/toys/ball/red"),
                ("GET", "/pets"),
                ("GET", "/"),
                ("POST", "/pets/dog"),
            ],
            expect![[r#"
                GET /pets/dog => api 0 GET /pets/dog {} (api path /pets/dog)
                GET /pets/cat => api 0 GET /pets/{id} {"id": "cat"} (api path /pets/cat)
                GET /pets/dog/toys/ball => api 0 GET /pets/dog/{proxy+} {"proxy": "toys/ball"} (api path /pets/dog/toys/ball)
                GET /pets/cat/toys/ball/red => api 0 GET /pets/{id}/toys/{proxy+} {"id": "cat", "proxy": "ball/red"} (api path /pets/cat/toys/ball/red)
                GET /pets => api 0 ANY /{proxy+} {"proxy": "pets"} (api path /pets)
                GET / => api 0 ANY $default {} (api path /)
                POST /pets/dog => api 0 ANY /{proxy+} {"proxy": "pets/dog"} (api path /pets/dog)
            "#]],
        );
    }

    #[test]
    fn explicit_method_beats_any() {
        let apis = [api(
            ApiKind::Rest,
            "Prod",
            &[
                ("ANY", "/items"),
                ("GET", "/items"),
                ("ANY", "/{proxy+}"),
                ("POST", "/{proxy+}"),
            ],
        )];
        check(
            &apis,
            &[
                ("GET", "/items"),
                ("DELETE", "/items"),
                ("POST", "/other"),
                ("PUT", "/other"),
            ],
            expect![[r#"
                GET /items => api 0 GET /items {} (api path /items)
                DELETE /items => api 0 ANY /items {} (api path /items)
                POST /other => api 0 POST /{proxy+} {"proxy": "other"} (api path /other)
                PUT /other => api 0 ANY /{proxy+} {"proxy": "other"} (api path /other)
            "#]],
        );
    }

    #[test]
    fn greedy_does_not_match_its_bare_prefix() {
        let apis = [api(
            ApiKind::Rest,
            "Prod",
            &[("ANY", "/{proxy+}"), ("GET", "/files/{proxy+}")],
        )];
        check(
            &apis,
            &[
                ("GET", "/"),
                ("GET", "/files"),
                ("GET", "/files/"),
                ("GET", "/files/a/"),
                ("GET", "/a//b"),
            ],
            expect![[r#"
                GET / => 404
                GET /files => api 0 ANY /{proxy+} {"proxy": "files"} (api path /files)
                GET /files/ => api 0 ANY /{proxy+} {"proxy": "files/"} (api path /files/)
                GET /files/a/ => api 0 GET /files/{proxy+} {"proxy": "a/"} (api path /files/a/)
                GET /a//b => api 0 ANY /{proxy+} {"proxy": "a//b"} (api path /a//b)
            "#]],
        );
    }

    #[test]
    fn each_stage_of_an_api_takes_the_paths_under_its_name() {
        let apis = [
            api(ApiKind::Rest, "prod", &[("ANY", "/{proxy+}")]),
            api(ApiKind::Rest, "dev", &[("ANY", "/{proxy+}")]),
        ];
        check(
            &apis,
            &[
                ("GET", "/prod/items"),
                ("GET", "/dev/items"),
                ("GET", "/items"),
            ],
            expect![[r#"
                GET /prod/items => api 0 ANY /{proxy+} {"proxy": "items"} (api path /items)
                GET /dev/items => api 1 ANY /{proxy+} {"proxy": "items"} (api path /items)
                GET /items => api 0 ANY /{proxy+} {"proxy": "items"} (api path /items)
            "#]],
        );
    }

    #[test]
    fn stage_prefix_and_trailing_slash() {
        let apis = [api(
            ApiKind::Rest,
            "Prod",
            &[
                ("GET", "/"),
                ("GET", "/hello"),
                ("GET", "/hello/{name}"),
                ("GET", "/Prod/hello"),
            ],
        )];
        check(
            &apis,
            &[
                ("GET", "/Prod/hello"),
                ("GET", "/Prod"),
                ("GET", "/Prod/"),
                ("GET", "/hello/"),
                ("GET", "/Prod/hello/w%C3%B6rld%2Fx"),
                ("GET", "/Production/hello"),
                ("GET", "/Prod/Prod/hello"),
                ("GET", "/hello//"),
                ("GET", "*"),
            ],
            expect![[r#"
                GET /Prod/hello => api 0 GET /hello {} (api path /hello)
                GET /Prod => api 0 GET / {} (api path /)
                GET /Prod/ => api 0 GET / {} (api path /)
                GET /hello/ => api 0 GET /hello {} (api path /hello/)
                GET /Prod/hello/w%C3%B6rld%2Fx => api 0 GET /hello/{name} {"name": "wörld/x"} (api path /hello/w%C3%B6rld%2Fx)
                GET /Production/hello => 404
                GET /Prod/Prod/hello => api 0 GET /Prod/hello {} (api path /Prod/hello)
                GET /hello// => 404
                GET * => 404
            "#]],
        );
    }

    #[test]
    fn methods_and_apis() {
        let apis = [
            api(ApiKind::Rest, "Prod", &[("GET", "/a/{x}")]),
            api(
                ApiKind::Http,
                "$default",
                &[("GET", "/a/{y}"), ("GET", "/a/b"), ("ANY", "$default")],
            ),
        ];
        check(
            &apis,
            &[
                ("GET", "/a/b"),
                ("GET", "/a/c"),
                ("HEAD", "/a/c"),
                ("FOO", "/a/c"),
                ("get", "/a/b"),
            ],
            expect![[r#"
                GET /a/b => api 1 GET /a/b {} (api path /a/b)
                GET /a/c => api 0 GET /a/{x} {"x": "c"} (api path /a/c)
                HEAD /a/c => api 1 ANY $default {} (api path /a/c)
                FOO /a/c => 404
                get /a/b => 404
            "#]],
        );
    }

    #[test]
    fn rest_picks_the_resource_before_the_method() {
        let routes = [("GET", "/items/{id}"), ("ANY", "/{proxy+}")];
        let requests = [
            ("GET", "/items/1"),
            ("DELETE", "/items/1"),
            ("DELETE", "/other/1"),
        ];
        check(
            &[api(ApiKind::Rest, "Prod", &routes)],
            &requests,
            expect![[r#"
                GET /items/1 => api 0 GET /items/{id} {"id": "1"} (api path /items/1)
                DELETE /items/1 => 404
                DELETE /other/1 => api 0 ANY /{proxy+} {"proxy": "other/1"} (api path /other/1)
            "#]],
        );
        // HTTP APIs choose among the routes that accept the method instead.
        check(
            &[api(ApiKind::Http, "$default", &routes)],
            &requests,
            expect![[r#"
                GET /items/1 => api 0 GET /items/{id} {"id": "1"} (api path /items/1)
                DELETE /items/1 => api 0 ANY /{proxy+} {"proxy": "items/1"} (api path /items/1)
                DELETE /other/1 => api 0 ANY /{proxy+} {"proxy": "other/1"} (api path /other/1)
            "#]],
        );
    }

    #[test]
    fn lines() {
        let apis = [
            api(ApiKind::Rest, "Prod", &[("GET", "/hello/{user}")]),
            api(
                ApiKind::Http,
                "$default",
                &[("ANY", "/items"), ("ANY", "/web"), ("ANY", "$default")],
            ),
        ];
        let lines = route_lines(&apis, "http://127.0.0.1:3000/");
        expect![[r#"
            GET http://127.0.0.1:3000/hello/{user} -> GET /hello/{user}
            ANY http://127.0.0.1:3000/items -> ANY /items
            ANY http://127.0.0.1:3000/web -> ANY /web (http mode)
            ANY http://127.0.0.1:3000/{proxy+} ($default) -> ANY $default"#]]
        .assert_eq(&lines.join("\n"));
    }
}
