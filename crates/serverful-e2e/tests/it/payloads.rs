//! API Gateway payload formats 1.0 and 2.0, field by field, in both directions.

use serde_json::{json, Value};
use serverful_e2e::{test_app, Server};

use crate::{client, json_body};

/// The event the echo function saw, from its response body.
fn echoed_event(response: reqwest::blocking::Response) -> Value {
    let mut body = json_body(response);
    body["event"].take()
}

#[test]
fn http_api_payload_2_0() {
    let server = Server::start(&test_app("payloads"), &[]);
    let http = client();
    let response = http
        .get(server.url("/v2/items/42?color=red&color=blue&empty=&enc=a%20b"))
        .header("X-Custom", "1")
        .header("X-Multi", "a")
        .header("User-Agent", "e2e-test")
        .header("Cookie", "c1=v1; c2=v2")
        .send()
        .expect("GET");
    assert_eq!(response.status(), 200);
    let set_cookies: Vec<_> = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|value| value.to_str().expect("ascii"))
        .collect();
    assert_eq!(
        set_cookies,
        ["session=abc; Path=/", "theme=dark"],
        "cookies become Set-Cookie headers"
    );
    assert_eq!(response.headers()["x-single"], "one");
    assert!(response.headers().contains_key("apigw-requestid"));
    let event = echoed_event(response);

    assert_eq!(event["version"], "2.0");
    assert_eq!(event["routeKey"], "GET /v2/items/{id}");
    assert_eq!(event["rawPath"], "/v2/items/42");
    assert_eq!(
        event["rawQueryString"],
        "color=red&color=blue&empty=&enc=a%20b"
    );
    assert_eq!(event["cookies"], json!(["c1=v1", "c2=v2"]));
    assert_eq!(event["headers"]["x-custom"], "1");
    assert_eq!(event["headers"]["x-multi"], "a");
    assert_eq!(event["headers"]["user-agent"], "e2e-test");
    assert_eq!(
        event["queryStringParameters"],
        json!({"color": "red,blue", "empty": "", "enc": "a b"})
    );
    assert_eq!(event["pathParameters"], json!({"id": "42"}));
    assert_eq!(event["isBase64Encoded"], false);
    assert!(
        event.get("body").is_none(),
        "no body field without a body: {event}"
    );
    assert!(event.get("stageVariables").is_none());

    let context = &event["requestContext"];
    assert_eq!(context["accountId"], "123456789012");
    assert_eq!(context["apiId"].as_str().map(str::len), Some(10));
    assert_eq!(context["routeKey"], "GET /v2/items/{id}");
    assert_eq!(context["stage"], "$default");
    assert_eq!(context["http"]["method"], "GET");
    assert_eq!(context["http"]["path"], "/v2/items/42");
    assert_eq!(context["http"]["protocol"], "HTTP/1.1");
    assert_eq!(context["http"]["sourceIp"], "127.0.0.1");
    assert_eq!(context["http"]["userAgent"], "e2e-test");
    assert!(context["requestId"]
        .as_str()
        .is_some_and(|id| !id.is_empty()));
    assert!(context["timeEpoch"]
        .as_u64()
        .is_some_and(|ms| ms > 1_600_000_000_000));
    assert!(
        context["time"]
            .as_str()
            .is_some_and(|time| time.ends_with(" +0000")),
        "{context}"
    );
    assert!(context["domainName"].as_str().is_some());
}

#[test]
fn http_api_bodies_text_and_binary() {
    let server = Server::start(&test_app("payloads"), &[]);
    let http = client();
    let text = echoed_event(
        http.post(server.url("/v2/upload"))
            .header("content-type", "application/json")
            .body(r#"{"a":1}"#)
            .send()
            .expect("POST json"),
    );
    assert_eq!(text["routeKey"], "ANY /v2/{proxy+}");
    assert_eq!(text["pathParameters"], json!({"proxy": "upload"}));
    assert_eq!(text["body"], r#"{"a":1}"#);
    assert_eq!(text["isBase64Encoded"], false);

    let bytes: Vec<u8> = (0..=255).collect();
    let binary = echoed_event(
        http.put(server.url("/v2/deep/upload/path"))
            .header("content-type", "application/octet-stream")
            .body(bytes.clone())
            .send()
            .expect("PUT binary"),
    );
    assert_eq!(binary["isBase64Encoded"], true);
    assert_eq!(binary["body"], base64(&bytes));
    assert_eq!(
        binary["pathParameters"],
        json!({"proxy": "deep/upload/path"})
    );

    let response = http
        .get(server.url("/v2/binary-response"))
        .send()
        .expect("GET binary");
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "application/octet-stream"
    );
    assert_eq!(
        response.bytes().expect("body").to_vec(),
        bytes,
        "base64 responses are decoded"
    );
}

#[test]
fn rest_api_payload_1_0() {
    let server = Server::start(&test_app("payloads"), &[]);
    let http = client();
    let response = http
        .get(server.url("/v1/items/7?x=1&x=2&y=z%2Fslash"))
        .header("X-Multi", "a")
        .header("User-Agent", "e2e-test")
        .send()
        .expect("GET");
    assert_eq!(response.status(), 200);
    let multi: Vec<_> = response
        .headers()
        .get_all("x-multi")
        .iter()
        .map(|value| value.to_str().expect("ascii"))
        .collect();
    assert_eq!(
        multi,
        ["a", "b"],
        "multiValueHeaders become repeated headers"
    );
    assert!(response.headers().contains_key("x-amzn-requestid"));
    let event = echoed_event(response);

    assert_eq!(event["resource"], "/v1/items/{id}");
    assert_eq!(event["path"], "/v1/items/7");
    assert_eq!(event["httpMethod"], "GET");
    assert_eq!(header(&event["headers"], "x-multi"), json!("a"));
    assert_eq!(header(&event["multiValueHeaders"], "x-multi"), json!(["a"]));
    assert_eq!(header(&event["headers"], "user-agent"), json!("e2e-test"));
    assert_eq!(
        event["queryStringParameters"],
        json!({"x": "2", "y": "z/slash"})
    );
    assert_eq!(
        event["multiValueQueryStringParameters"],
        json!({"x": ["1", "2"], "y": ["z/slash"]})
    );
    assert_eq!(event["pathParameters"], json!({"id": "7"}));
    assert_eq!(event["stageVariables"], json!({"stageVar": "fromStage"}));
    assert_eq!(event["body"], Value::Null);
    assert_eq!(event["isBase64Encoded"], false);

    let context = &event["requestContext"];
    assert_eq!(context["accountId"], "123456789012");
    assert_eq!(context["resourcePath"], "/v1/items/{id}");
    assert_eq!(context["httpMethod"], "GET");
    assert_eq!(context["stage"], "test");
    assert_eq!(context["protocol"], "HTTP/1.1");
    assert_eq!(context["identity"]["sourceIp"], "127.0.0.1");
    assert_eq!(context["identity"]["userAgent"], "e2e-test");
    assert!(context["requestTimeEpoch"]
        .as_u64()
        .is_some_and(|ms| ms > 1_600_000_000_000));
    assert!(context["requestTime"]
        .as_str()
        .is_some_and(|time| time.ends_with(" +0000")));

    // A request without query or headers of note gets nulls, as API Gateway sends them.
    let bare = echoed_event(http.get(server.url("/v1/items/8")).send().expect("GET"));
    assert_eq!(bare["queryStringParameters"], Value::Null);
    assert_eq!(bare["multiValueQueryStringParameters"], Value::Null);

    // With the stage prefix in the URL, the event's path stays the resource path.
    let staged = echoed_event(
        http.get(server.url("/test/v1/items/9"))
            .send()
            .expect("GET staged"),
    );
    assert_eq!(staged["path"], "/v1/items/9");
    assert_eq!(staged["pathParameters"], json!({"id": "9"}));
}

#[test]
fn rest_api_bodies_follow_binary_media_types() {
    let server = Server::start(&test_app("payloads"), &[]);
    let http = client();
    let text = echoed_event(
        http.post(server.url("/v1/notes/today"))
            .header("content-type", "text/plain")
            .body("plain text")
            .send()
            .expect("POST text"),
    );
    assert_eq!(text["resource"], "/v1/{proxy+}");
    assert_eq!(text["pathParameters"], json!({"proxy": "notes/today"}));
    assert_eq!(text["httpMethod"], "POST");
    assert_eq!(text["body"], "plain text");
    assert_eq!(text["isBase64Encoded"], false);

    let png = [0x89_u8, b'P', b'N', b'G', 0, 0xff, 0xfe];
    let image = echoed_event(
        http.post(server.url("/v1/upload"))
            .header("content-type", "image/png")
            .body(png.to_vec())
            .send()
            .expect("POST image"),
    );
    assert_eq!(image["isBase64Encoded"], true);
    assert_eq!(image["body"], base64(&png));
}

#[test]
fn http_api_route_with_payload_format_1_0() {
    let server = Server::start(&test_app("payloads"), &[]);
    let event = echoed_event(
        client()
            .get(server.url("/v2-as-v1/lamp?on=yes"))
            .send()
            .expect("GET"),
    );
    assert_eq!(event["httpMethod"], "GET");
    assert_eq!(event["pathParameters"], json!({"thing": "lamp"}));
    assert_eq!(event["queryStringParameters"], json!({"on": "yes"}));
}

#[test]
fn http_api_2_0_response_inference() {
    let server = Server::start(&test_app("payloads"), &[]);
    let http = client();

    let object = http.get(server.url("/node/object")).send().expect("GET");
    assert_eq!(object.status(), 200);
    assert_eq!(object.headers()["content-type"], "application/json");
    assert_eq!(json_body(object), json!({"hello": "world"}));

    let string = http.get(server.url("/node/string")).send().expect("GET");
    assert_eq!(string.status(), 200);
    assert_eq!(string.text().expect("body"), "just a string");

    let number = http.get(server.url("/node/number")).send().expect("GET");
    assert_eq!(number.status(), 200);
    assert_eq!(number.text().expect("body"), "42");

    let status = http.get(server.url("/node/status")).send().expect("GET");
    assert_eq!(status.status(), 201);
    assert_eq!(status.text().expect("body"), "created");

    // A REST route does not infer: a malformed proxy response is a 502.
    let rest = http
        .post(server.url("/node-rest/object"))
        .send()
        .expect("POST");
    assert_eq!(rest.status(), 502);
    assert_eq!(json_body(rest), json!({"message": "Internal server error"}));
}

#[test]
fn missing_routes_get_api_gateway_not_found() {
    let server = Server::start(&test_app("payloads"), &[]);
    let http = client();
    for (method, path) in [("GET", "/nowhere"), ("GET", "/node"), ("GET", "/v1")] {
        let response = http
            .request(method.parse().expect("method"), server.url(path))
            .send()
            .expect("request");
        assert_eq!(response.status(), 404, "{method} {path}");
        assert_eq!(
            json_body(response),
            json!({"message": "Not Found"}),
            "{method} {path}"
        );
    }
}

#[test]
fn http_api_methods_fall_through_to_a_greedy_any_route() {
    // As in AWS's routing example: with `GET /v2/items/{id}` and `ANY /v2/{proxy+}`,
    // `POST /v2/items/1` goes to the greedy route.
    let server = Server::start(&test_app("payloads"), &[]);
    let event = echoed_event(
        client()
            .post(server.url("/v2/items/1"))
            .send()
            .expect("POST"),
    );
    assert_eq!(event["routeKey"], "ANY /v2/{proxy+}");
    assert_eq!(event["pathParameters"], json!({"proxy": "items/1"}));
}

#[test]
fn each_api_answers_on_its_own_host_name() {
    // Issue #14: under `up` every API also answers on `{api_id}.execute-api.localhost`, as
    // on AWS, with only its own routes; the bare host still serves them all.
    let server = Server::start(&test_app("payloads"), &[]);
    let stdout = server.stdout();
    let port = server
        .base_url
        .rsplit_once(':')
        .and_then(|(_, port)| port.parse::<u16>().ok())
        .expect("the gateway's port");
    // `(also http://ID.execute-api.localhost:PORT/STAGE)`, one per API; the stage names it.
    let also =
        regex::Regex::new(r"\(also http://([a-z0-9]+)\.execute-api\.localhost:(\d+)(/\w+)?\)")
            .expect("regex");
    let mut api_ids = std::collections::BTreeMap::new();
    for found in also.captures_iter(&stdout) {
        assert_eq!(found[2].parse::<u16>().ok(), Some(port), "{stdout}");
        let stage = found.get(3).map_or("", |stage| stage.as_str()).to_owned();
        api_ids.insert(stage, found[1].to_owned());
    }
    let keys: Vec<&str> = api_ids.keys().map(String::as_str).collect();
    assert_eq!(keys, ["", "/Prod", "/test"], "{stdout}");
    let (http_api, rest_api) = (&api_ids[""], &api_ids["/test"]);

    // No DNS is involved: the client connects to the gateway and names the API's host.
    let gateway: std::net::SocketAddr = server
        .base_url
        .trim_start_matches("http://")
        .parse()
        .expect("the gateway's address");
    let mut builder = reqwest::blocking::Client::builder();
    for api_id in api_ids.values() {
        builder = builder.resolve(&format!("{api_id}.execute-api.localhost"), gateway);
    }
    let http = builder.build().expect("http client");

    let rest_host = format!("{rest_api}.execute-api.localhost:{port}");
    let event = echoed_event(
        http.get(format!("http://{rest_host}/test/v1/items/7"))
            .send()
            .expect("GET on the REST API's host"),
    );
    assert_eq!(event["resource"], "/v1/items/{id}");
    assert_eq!(event["requestContext"]["apiId"], rest_api.as_str());
    assert_eq!(event["requestContext"]["domainName"], rest_host.as_str());
    assert_eq!(event["requestContext"]["domainPrefix"], rest_api.as_str());
    assert_eq!(header(&event["headers"], "host"), rest_host.as_str());

    let http_host = format!("{http_api}.execute-api.localhost:{port}");
    let event = echoed_event(
        http.get(format!("http://{http_host}/v2/items/7"))
            .send()
            .expect("GET on the HTTP API's host"),
    );
    assert_eq!(event["routeKey"], "GET /v2/items/{id}");
    assert_eq!(event["requestContext"]["domainName"], http_host.as_str());
    assert_eq!(event["requestContext"]["domainPrefix"], http_api.as_str());

    // An API's host serves only that API: the HTTP API's route is not on the REST API's.
    let elsewhere = http
        .get(format!("http://{rest_host}/v2/items/7"))
        .send()
        .expect("GET");
    assert_eq!(elsewhere.status(), 404);
    assert_eq!(json_body(elsewhere), json!({"message": "Not Found"}));
    let bare = client()
        .get(server.url("/v2/items/7"))
        .send()
        .expect("GET on the bare host");
    assert_eq!(bare.status(), 200);
}

/// A header from a v1 header map, whatever case the client sent its name in.
fn header(headers: &Value, name: &str) -> Value {
    headers
        .as_object()
        .and_then(|map| map.iter().find(|(key, _)| key.eq_ignore_ascii_case(name)))
        .map(|(_, value)| value.clone())
        .unwrap_or(Value::Null)
}

fn base64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}
