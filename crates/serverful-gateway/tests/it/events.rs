//! The events functions receive: payload formats 1.0 and 2.0, field by field.

use axum::body::Body;
use expect_test::expect;
use http::Request;
use serverful_gateway::PayloadFormat;

use crate::{check, get, http_api, rest_api, route, OK};

#[tokio::test]
async fn rest_api_gets_format_1_0() {
    let request = Request::get("/Prod/hello/w%C3%B6rld%20x?name=a&name=b&slash=%2F&plus=a+b&flag")
        .header("host", "localhost:3000")
        .header("user-agent", "curl/8.0")
        .header("x-multi", "one")
        .header("x-multi", "two")
        .body(Body::empty())
        .expect("a valid request");
    check(
        vec![rest_api(vec![route("GET", "/hello/{name}", "Hello")])],
        request,
        Ok(OK.as_bytes()),
        expect![[r#"
            invoked app/Hello with
              body = null
              headers.host = "localhost:3000"
              headers.user-agent = "curl/8.0"
              headers.x-forwarded-for = "127.0.0.1"
              headers.x-forwarded-port = "3000"
              headers.x-forwarded-proto = "http"
              headers.x-multi = "two"
              httpMethod = "GET"
              isBase64Encoded = false
              multiValueHeaders.host = ["localhost:3000"]
              multiValueHeaders.user-agent = ["curl/8.0"]
              multiValueHeaders.x-forwarded-for = ["127.0.0.1"]
              multiValueHeaders.x-forwarded-port = ["3000"]
              multiValueHeaders.x-forwarded-proto = ["http"]
              multiValueHeaders.x-multi = ["one","two"]
              multiValueQueryStringParameters.flag = [""]
              multiValueQueryStringParameters.name = ["a","b"]
              multiValueQueryStringParameters.plus = ["a b"]
              multiValueQueryStringParameters.slash = ["/"]
              path = "/hello/w%C3%B6rld%20x"
              pathParameters.name = "wörld x"
              queryStringParameters.flag = ""
              queryStringParameters.name = "b"
              queryStringParameters.plus = "a b"
              queryStringParameters.slash = "/"
              requestContext.accountId = "123456789012"
              requestContext.apiId = "restapi123"
              requestContext.domainName = "localhost:3000"
              requestContext.domainPrefix = "localhost"
              requestContext.extendedRequestId = "<extendedRequestId>"
              requestContext.httpMethod = "GET"
              requestContext.identity.accessKey = null
              requestContext.identity.accountId = null
              requestContext.identity.apiKey = null
              requestContext.identity.apiKeyId = null
              requestContext.identity.caller = null
              requestContext.identity.cognitoAuthenticationProvider = null
              requestContext.identity.cognitoAuthenticationType = null
              requestContext.identity.cognitoIdentityId = null
              requestContext.identity.cognitoIdentityPoolId = null
              requestContext.identity.principalOrgId = null
              requestContext.identity.sourceIp = "127.0.0.1"
              requestContext.identity.user = null
              requestContext.identity.userAgent = "curl/8.0"
              requestContext.identity.userArn = null
              requestContext.path = "/Prod/hello/w%C3%B6rld%20x"
              requestContext.protocol = "HTTP/1.1"
              requestContext.requestId = "<requestId>"
              requestContext.requestTime = "<requestTime>"
              requestContext.requestTimeEpoch = "<requestTimeEpoch>"
              requestContext.resourceId = "s7oqbs"
              requestContext.resourcePath = "/hello/{name}"
              requestContext.stage = "Prod"
              resource = "/hello/{name}"
              stageVariables.env = "test"
            response 200
            content-type: application/json
            x-amzn-requestid: <id>
            x-amz-apigw-id: <id>
            content-length: 0
            body: ""
        "#]],
    )
    .await;
}

#[tokio::test]
async fn rest_api_without_stage_prefix_query_or_parameters_sends_nulls() {
    check(
        vec![rest_api(vec![route("ANY", "/items", "Items")])],
        get("/items"),
        Ok(OK.as_bytes()),
        expect![[r#"
            invoked app/Items with
              body = null
              headers.x-forwarded-for = "127.0.0.1"
              headers.x-forwarded-port = "3000"
              headers.x-forwarded-proto = "http"
              httpMethod = "GET"
              isBase64Encoded = false
              multiValueHeaders.x-forwarded-for = ["127.0.0.1"]
              multiValueHeaders.x-forwarded-port = ["3000"]
              multiValueHeaders.x-forwarded-proto = ["http"]
              multiValueQueryStringParameters = null
              path = "/items"
              pathParameters = null
              queryStringParameters = null
              requestContext.accountId = "123456789012"
              requestContext.apiId = "restapi123"
              requestContext.domainName = "127.0.0.1:3000"
              requestContext.domainPrefix = "127.0.0.1"
              requestContext.extendedRequestId = "<extendedRequestId>"
              requestContext.httpMethod = "GET"
              requestContext.identity.accessKey = null
              requestContext.identity.accountId = null
              requestContext.identity.apiKey = null
              requestContext.identity.apiKeyId = null
              requestContext.identity.caller = null
              requestContext.identity.cognitoAuthenticationProvider = null
              requestContext.identity.cognitoAuthenticationType = null
              requestContext.identity.cognitoIdentityId = null
              requestContext.identity.cognitoIdentityPoolId = null
              requestContext.identity.principalOrgId = null
              requestContext.identity.sourceIp = "127.0.0.1"
              requestContext.identity.user = null
              requestContext.identity.userAgent = null
              requestContext.identity.userArn = null
              requestContext.path = "/Prod/items"
              requestContext.protocol = "HTTP/1.1"
              requestContext.requestId = "<requestId>"
              requestContext.requestTime = "<requestTime>"
              requestContext.requestTimeEpoch = "<requestTimeEpoch>"
              requestContext.resourceId = "ubfwm7"
              requestContext.resourcePath = "/items"
              requestContext.stage = "Prod"
              resource = "/items"
              stageVariables.env = "test"
            response 200
            content-type: application/json
            x-amzn-requestid: <id>
            x-amz-apigw-id: <id>
            content-length: 0
            body: ""
        "#]],
    )
    .await;
}

#[tokio::test]
async fn rest_api_greedy_path_keeps_encoding_in_path_and_decodes_parameter() {
    check(
        vec![rest_api(vec![route("ANY", "/{proxy+}", "Proxy")])],
        Request::post("/Prod/a%2Fb/c")
            .body(Body::from("text body"))
            .expect("a valid request"),
        Ok(OK.as_bytes()),
        expect![[r#"
            invoked app/Proxy with
              body = "text body"
              headers.x-forwarded-for = "127.0.0.1"
              headers.x-forwarded-port = "3000"
              headers.x-forwarded-proto = "http"
              httpMethod = "POST"
              isBase64Encoded = false
              multiValueHeaders.x-forwarded-for = ["127.0.0.1"]
              multiValueHeaders.x-forwarded-port = ["3000"]
              multiValueHeaders.x-forwarded-proto = ["http"]
              multiValueQueryStringParameters = null
              path = "/a%2Fb/c"
              pathParameters.proxy = "a/b/c"
              queryStringParameters = null
              requestContext.accountId = "123456789012"
              requestContext.apiId = "restapi123"
              requestContext.domainName = "127.0.0.1:3000"
              requestContext.domainPrefix = "127.0.0.1"
              requestContext.extendedRequestId = "<extendedRequestId>"
              requestContext.httpMethod = "POST"
              requestContext.identity.accessKey = null
              requestContext.identity.accountId = null
              requestContext.identity.apiKey = null
              requestContext.identity.apiKeyId = null
              requestContext.identity.caller = null
              requestContext.identity.cognitoAuthenticationProvider = null
              requestContext.identity.cognitoAuthenticationType = null
              requestContext.identity.cognitoIdentityId = null
              requestContext.identity.cognitoIdentityPoolId = null
              requestContext.identity.principalOrgId = null
              requestContext.identity.sourceIp = "127.0.0.1"
              requestContext.identity.user = null
              requestContext.identity.userAgent = null
              requestContext.identity.userArn = null
              requestContext.path = "/Prod/a%2Fb/c"
              requestContext.protocol = "HTTP/1.1"
              requestContext.requestId = "<requestId>"
              requestContext.requestTime = "<requestTime>"
              requestContext.requestTimeEpoch = "<requestTimeEpoch>"
              requestContext.resourceId = "5umuh7"
              requestContext.resourcePath = "/{proxy+}"
              requestContext.stage = "Prod"
              resource = "/{proxy+}"
              stageVariables.env = "test"
            response 200
            content-type: application/json
            x-amzn-requestid: <id>
            x-amz-apigw-id: <id>
            content-length: 0
            body: ""
        "#]],
    )
    .await;
}

#[tokio::test]
async fn http_api_gets_format_2_0() {
    let request = Request::get("/hello/w%C3%B6rld?color=red&color=blue&enc=a%20b&empty=")
        .header("host", "abc.example.com")
        .header("user-agent", "curl/8.0")
        .header("X-Multi", "one")
        .header("x-multi", "two")
        .header("cookie", "c1=v1; c2=v2")
        .header("cookie", "c3=v3")
        .header("x-forwarded-for", "10.0.0.1")
        .body(Body::empty())
        .expect("a valid request");
    check(
        vec![http_api(vec![route("GET", "/hello/{name}", "Hello")])],
        request,
        Ok(OK.as_bytes()),
        expect![[r#"
            invoked app/Hello with
              cookies = ["c1=v1","c2=v2","c3=v3"]
              headers.host = "abc.example.com"
              headers.user-agent = "curl/8.0"
              headers.x-forwarded-for = "10.0.0.1, 127.0.0.1"
              headers.x-forwarded-port = "80"
              headers.x-forwarded-proto = "http"
              headers.x-multi = "one,two"
              isBase64Encoded = false
              pathParameters.name = "wörld"
              queryStringParameters.color = "red,blue"
              queryStringParameters.empty = ""
              queryStringParameters.enc = "a b"
              rawPath = "/hello/wörld"
              rawQueryString = "color=red&color=blue&enc=a%20b&empty="
              requestContext.accountId = "123456789012"
              requestContext.apiId = "httpapi123"
              requestContext.domainName = "abc.example.com"
              requestContext.domainPrefix = "abc"
              requestContext.http.method = "GET"
              requestContext.http.path = "/hello/wörld"
              requestContext.http.protocol = "HTTP/1.1"
              requestContext.http.sourceIp = "127.0.0.1"
              requestContext.http.userAgent = "curl/8.0"
              requestContext.requestId = "<requestId>"
              requestContext.routeKey = "GET /hello/{name}"
              requestContext.stage = "$default"
              requestContext.time = "<time>"
              requestContext.timeEpoch = "<timeEpoch>"
              routeKey = "GET /hello/{name}"
              version = "2.0"
            response 200
            content-type: application/json
            apigw-requestid: <id>
            content-length: 0
            body: ""
        "#]],
    )
    .await;
}

#[tokio::test]
async fn http_api_default_route_omits_absent_fields() {
    check(
        vec![http_api(vec![route("ANY", "$default", "CatchAll")])],
        Request::delete("/any/where")
            .body(Body::empty())
            .expect("a valid request"),
        Ok(OK.as_bytes()),
        expect![[r#"
            invoked app/CatchAll with
              headers.x-forwarded-for = "127.0.0.1"
              headers.x-forwarded-port = "3000"
              headers.x-forwarded-proto = "http"
              isBase64Encoded = false
              rawPath = "/any/where"
              rawQueryString = ""
              requestContext.accountId = "123456789012"
              requestContext.apiId = "httpapi123"
              requestContext.domainName = "127.0.0.1:3000"
              requestContext.domainPrefix = "127.0.0.1"
              requestContext.http.method = "DELETE"
              requestContext.http.path = "/any/where"
              requestContext.http.protocol = "HTTP/1.1"
              requestContext.http.sourceIp = "127.0.0.1"
              requestContext.http.userAgent = ""
              requestContext.requestId = "<requestId>"
              requestContext.routeKey = "$default"
              requestContext.stage = "$default"
              requestContext.time = "<time>"
              requestContext.timeEpoch = "<timeEpoch>"
              routeKey = "$default"
              version = "2.0"
            response 200
            content-type: application/json
            apigw-requestid: <id>
            content-length: 0
            body: ""
        "#]],
    )
    .await;
}

#[tokio::test]
async fn http_api_route_with_payload_format_1_0() {
    let mut v1_route = route("GET", "/things/{thing}", "Things");
    v1_route.payload_format = PayloadFormat::V1;
    check(
        vec![http_api(vec![v1_route])],
        get("/things/lamp%20one?on=yes&on=no"),
        Ok(OK.as_bytes()),
        expect![[r#"
            invoked app/Things with
              body = null
              headers.x-forwarded-for = "127.0.0.1"
              headers.x-forwarded-port = "3000"
              headers.x-forwarded-proto = "http"
              httpMethod = "GET"
              isBase64Encoded = false
              multiValueHeaders.x-forwarded-for = ["127.0.0.1"]
              multiValueHeaders.x-forwarded-port = ["3000"]
              multiValueHeaders.x-forwarded-proto = ["http"]
              multiValueQueryStringParameters.on = ["yes","no"]
              path = "/things/lamp one"
              pathParameters.thing = "lamp one"
              queryStringParameters.on = "no"
              requestContext.accountId = "123456789012"
              requestContext.apiId = "httpapi123"
              requestContext.domainName = "127.0.0.1:3000"
              requestContext.domainPrefix = "127.0.0.1"
              requestContext.extendedRequestId = "<extendedRequestId>"
              requestContext.httpMethod = "GET"
              requestContext.identity.accessKey = null
              requestContext.identity.accountId = null
              requestContext.identity.apiKey = null
              requestContext.identity.apiKeyId = null
              requestContext.identity.caller = null
              requestContext.identity.cognitoAuthenticationProvider = null
              requestContext.identity.cognitoAuthenticationType = null
              requestContext.identity.cognitoIdentityId = null
              requestContext.identity.cognitoIdentityPoolId = null
              requestContext.identity.principalOrgId = null
              requestContext.identity.sourceIp = "127.0.0.1"
              requestContext.identity.user = null
              requestContext.identity.userAgent = null
              requestContext.identity.userArn = null
              requestContext.path = "/things/lamp one"
              requestContext.protocol = "HTTP/1.1"
              requestContext.requestId = "<requestId>"
              requestContext.requestTime = "<requestTime>"
              requestContext.requestTimeEpoch = "<requestTimeEpoch>"
              requestContext.resourceId = null
              requestContext.resourcePath = "/things/{thing}"
              requestContext.stage = "$default"
              resource = "/things/{thing}"
              stageVariables = null
              version = "1.0"
            response 200
            content-type: application/json
            apigw-requestid: <id>
            content-length: 0
            body: ""
        "#]],
    )
    .await;
}

#[tokio::test]
async fn http_api_bodies_are_text_for_text_types_and_base64_otherwise() {
    let api = || vec![http_api(vec![route("POST", "/upload", "Upload")])];
    let post = |content_type: Option<&str>, body: &'static [u8]| {
        let mut builder = Request::post("/upload");
        if let Some(content_type) = content_type {
            builder = builder.header("content-type", content_type);
        }
        builder.body(Body::from(body)).expect("a valid request")
    };
    check(
        api(),
        post(Some("application/json; charset=utf-8"), br#"{"a":1}"#),
        Ok(OK.as_bytes()),
        expect![[r#"
            invoked app/Upload with
              body = "{\"a\":1}"
              headers.content-type = "application/json; charset=utf-8"
              headers.x-forwarded-for = "127.0.0.1"
              headers.x-forwarded-port = "3000"
              headers.x-forwarded-proto = "http"
              isBase64Encoded = false
              rawPath = "/upload"
              rawQueryString = ""
              requestContext.accountId = "123456789012"
              requestContext.apiId = "httpapi123"
              requestContext.domainName = "127.0.0.1:3000"
              requestContext.domainPrefix = "127.0.0.1"
              requestContext.http.method = "POST"
              requestContext.http.path = "/upload"
              requestContext.http.protocol = "HTTP/1.1"
              requestContext.http.sourceIp = "127.0.0.1"
              requestContext.http.userAgent = ""
              requestContext.requestId = "<requestId>"
              requestContext.routeKey = "POST /upload"
              requestContext.stage = "$default"
              requestContext.time = "<time>"
              requestContext.timeEpoch = "<timeEpoch>"
              routeKey = "POST /upload"
              version = "2.0"
            response 200
            content-type: application/json
            apigw-requestid: <id>
            content-length: 0
            body: ""
        "#]],
    )
    .await;
    check(
        api(),
        post(Some("application/octet-stream"), b"\x00\xff\xfe"),
        Ok(OK.as_bytes()),
        expect![[r#"
            invoked app/Upload with
              body = "AP/+"
              headers.content-type = "application/octet-stream"
              headers.x-forwarded-for = "127.0.0.1"
              headers.x-forwarded-port = "3000"
              headers.x-forwarded-proto = "http"
              isBase64Encoded = true
              rawPath = "/upload"
              rawQueryString = ""
              requestContext.accountId = "123456789012"
              requestContext.apiId = "httpapi123"
              requestContext.domainName = "127.0.0.1:3000"
              requestContext.domainPrefix = "127.0.0.1"
              requestContext.http.method = "POST"
              requestContext.http.path = "/upload"
              requestContext.http.protocol = "HTTP/1.1"
              requestContext.http.sourceIp = "127.0.0.1"
              requestContext.http.userAgent = ""
              requestContext.requestId = "<requestId>"
              requestContext.routeKey = "POST /upload"
              requestContext.stage = "$default"
              requestContext.time = "<time>"
              requestContext.timeEpoch = "<timeEpoch>"
              routeKey = "POST /upload"
              version = "2.0"
            response 200
            content-type: application/json
            apigw-requestid: <id>
            content-length: 0
            body: ""
        "#]],
    )
    .await;
    check(
        api(),
        post(Some("text/plain"), b"caf\xe9"),
        Ok(OK.as_bytes()),
        expect![[r#"
            invoked app/Upload with
              body = "Y2Fm6Q=="
              headers.content-type = "text/plain"
              headers.x-forwarded-for = "127.0.0.1"
              headers.x-forwarded-port = "3000"
              headers.x-forwarded-proto = "http"
              isBase64Encoded = true
              rawPath = "/upload"
              rawQueryString = ""
              requestContext.accountId = "123456789012"
              requestContext.apiId = "httpapi123"
              requestContext.domainName = "127.0.0.1:3000"
              requestContext.domainPrefix = "127.0.0.1"
              requestContext.http.method = "POST"
              requestContext.http.path = "/upload"
              requestContext.http.protocol = "HTTP/1.1"
              requestContext.http.sourceIp = "127.0.0.1"
              requestContext.http.userAgent = ""
              requestContext.requestId = "<requestId>"
              requestContext.routeKey = "POST /upload"
              requestContext.stage = "$default"
              requestContext.time = "<time>"
              requestContext.timeEpoch = "<timeEpoch>"
              routeKey = "POST /upload"
              version = "2.0"
            response 200
            content-type: application/json
            apigw-requestid: <id>
            content-length: 0
            body: ""
        "#]],
    )
    .await;
    check(
        api(),
        post(None, b"no type"),
        Ok(OK.as_bytes()),
        expect![[r#"
            invoked app/Upload with
              body = "bm8gdHlwZQ=="
              headers.x-forwarded-for = "127.0.0.1"
              headers.x-forwarded-port = "3000"
              headers.x-forwarded-proto = "http"
              isBase64Encoded = true
              rawPath = "/upload"
              rawQueryString = ""
              requestContext.accountId = "123456789012"
              requestContext.apiId = "httpapi123"
              requestContext.domainName = "127.0.0.1:3000"
              requestContext.domainPrefix = "127.0.0.1"
              requestContext.http.method = "POST"
              requestContext.http.path = "/upload"
              requestContext.http.protocol = "HTTP/1.1"
              requestContext.http.sourceIp = "127.0.0.1"
              requestContext.http.userAgent = ""
              requestContext.requestId = "<requestId>"
              requestContext.routeKey = "POST /upload"
              requestContext.stage = "$default"
              requestContext.time = "<time>"
              requestContext.timeEpoch = "<timeEpoch>"
              routeKey = "POST /upload"
              version = "2.0"
            response 200
            content-type: application/json
            apigw-requestid: <id>
            content-length: 0
            body: ""
        "#]],
    )
    .await;
}

#[tokio::test]
async fn rest_api_bodies_follow_binary_media_types() {
    let api = || vec![rest_api(vec![route("POST", "/upload", "Upload")])];
    let post = |content_type: &str, body: &'static [u8]| {
        Request::post("/upload")
            .header("content-type", content_type)
            .body(Body::from(body))
            .expect("a valid request")
    };
    check(
        api(),
        post("text/plain", b"plain text"),
        Ok(OK.as_bytes()),
        expect![[r#"
            invoked app/Upload with
              body = "plain text"
              headers.content-type = "text/plain"
              headers.x-forwarded-for = "127.0.0.1"
              headers.x-forwarded-port = "3000"
              headers.x-forwarded-proto = "http"
              httpMethod = "POST"
              isBase64Encoded = false
              multiValueHeaders.content-type = ["text/plain"]
              multiValueHeaders.x-forwarded-for = ["127.0.0.1"]
              multiValueHeaders.x-forwarded-port = ["3000"]
              multiValueHeaders.x-forwarded-proto = ["http"]
              multiValueQueryStringParameters = null
              path = "/upload"
              pathParameters = null
              queryStringParameters = null
              requestContext.accountId = "123456789012"
              requestContext.apiId = "restapi123"
              requestContext.domainName = "127.0.0.1:3000"
              requestContext.domainPrefix = "127.0.0.1"
              requestContext.extendedRequestId = "<extendedRequestId>"
              requestContext.httpMethod = "POST"
              requestContext.identity.accessKey = null
              requestContext.identity.accountId = null
              requestContext.identity.apiKey = null
              requestContext.identity.apiKeyId = null
              requestContext.identity.caller = null
              requestContext.identity.cognitoAuthenticationProvider = null
              requestContext.identity.cognitoAuthenticationType = null
              requestContext.identity.cognitoIdentityId = null
              requestContext.identity.cognitoIdentityPoolId = null
              requestContext.identity.principalOrgId = null
              requestContext.identity.sourceIp = "127.0.0.1"
              requestContext.identity.user = null
              requestContext.identity.userAgent = null
              requestContext.identity.userArn = null
              requestContext.path = "/Prod/upload"
              requestContext.protocol = "HTTP/1.1"
              requestContext.requestId = "<requestId>"
              requestContext.requestTime = "<requestTime>"
              requestContext.requestTimeEpoch = "<requestTimeEpoch>"
              requestContext.resourceId = "1b7s2v"
              requestContext.resourcePath = "/upload"
              requestContext.stage = "Prod"
              resource = "/upload"
              stageVariables.env = "test"
            response 200
            content-type: application/json
            x-amzn-requestid: <id>
            x-amz-apigw-id: <id>
            content-length: 0
            body: ""
        "#]],
    )
    .await;
    check(
        api(),
        post("image/png", b"PNG but valid UTF-8"),
        Ok(OK.as_bytes()),
        expect![[r#"
            invoked app/Upload with
              body = "UE5HIGJ1dCB2YWxpZCBVVEYtOA=="
              headers.content-type = "image/png"
              headers.x-forwarded-for = "127.0.0.1"
              headers.x-forwarded-port = "3000"
              headers.x-forwarded-proto = "http"
              httpMethod = "POST"
              isBase64Encoded = true
              multiValueHeaders.content-type = ["image/png"]
              multiValueHeaders.x-forwarded-for = ["127.0.0.1"]
              multiValueHeaders.x-forwarded-port = ["3000"]
              multiValueHeaders.x-forwarded-proto = ["http"]
              multiValueQueryStringParameters = null
              path = "/upload"
              pathParameters = null
              queryStringParameters = null
              requestContext.accountId = "123456789012"
              requestContext.apiId = "restapi123"
              requestContext.domainName = "127.0.0.1:3000"
              requestContext.domainPrefix = "127.0.0.1"
              requestContext.extendedRequestId = "<extendedRequestId>"
              requestContext.httpMethod = "POST"
              requestContext.identity.accessKey = null
              requestContext.identity.accountId = null
              requestContext.identity.apiKey = null
              requestContext.identity.apiKeyId = null
              requestContext.identity.caller = null
              requestContext.identity.cognitoAuthenticationProvider = null
              requestContext.identity.cognitoAuthenticationType = null
              requestContext.identity.cognitoIdentityId = null
              requestContext.identity.cognitoIdentityPoolId = null
              requestContext.identity.principalOrgId = null
              requestContext.identity.sourceIp = "127.0.0.1"
              requestContext.identity.user = null
              requestContext.identity.userAgent = null
              requestContext.identity.userArn = null
              requestContext.path = "/Prod/upload"
              requestContext.protocol = "HTTP/1.1"
              requestContext.requestId = "<requestId>"
              requestContext.requestTime = "<requestTime>"
              requestContext.requestTimeEpoch = "<requestTimeEpoch>"
              requestContext.resourceId = "1b7s2v"
              requestContext.resourcePath = "/upload"
              requestContext.stage = "Prod"
              resource = "/upload"
              stageVariables.env = "test"
            response 200
            content-type: application/json
            x-amzn-requestid: <id>
            x-amz-apigw-id: <id>
            content-length: 0
            body: ""
        "#]],
    )
    .await;
    check(
        api(),
        post("text/plain", b"\x89PNG\xff"),
        Ok(OK.as_bytes()),
        expect![[r#"
            invoked app/Upload with
              body = "iVBOR/8="
              headers.content-type = "text/plain"
              headers.x-forwarded-for = "127.0.0.1"
              headers.x-forwarded-port = "3000"
              headers.x-forwarded-proto = "http"
              httpMethod = "POST"
              isBase64Encoded = true
              multiValueHeaders.content-type = ["text/plain"]
              multiValueHeaders.x-forwarded-for = ["127.0.0.1"]
              multiValueHeaders.x-forwarded-port = ["3000"]
              multiValueHeaders.x-forwarded-proto = ["http"]
              multiValueQueryStringParameters = null
              path = "/upload"
              pathParameters = null
              queryStringParameters = null
              requestContext.accountId = "123456789012"
              requestContext.apiId = "restapi123"
              requestContext.domainName = "127.0.0.1:3000"
              requestContext.domainPrefix = "127.0.0.1"
              requestContext.extendedRequestId = "<extendedRequestId>"
              requestContext.httpMethod = "POST"
              requestContext.identity.accessKey = null
              requestContext.identity.accountId = null
              requestContext.identity.apiKey = null
              requestContext.identity.apiKeyId = null
              requestContext.identity.caller = null
              requestContext.identity.cognitoAuthenticationProvider = null
              requestContext.identity.cognitoAuthenticationType = null
              requestContext.identity.cognitoIdentityId = null
              requestContext.identity.cognitoIdentityPoolId = null
              requestContext.identity.principalOrgId = null
              requestContext.identity.sourceIp = "127.0.0.1"
              requestContext.identity.user = null
              requestContext.identity.userAgent = null
              requestContext.identity.userArn = null
              requestContext.path = "/Prod/upload"
              requestContext.protocol = "HTTP/1.1"
              requestContext.requestId = "<requestId>"
              requestContext.requestTime = "<requestTime>"
              requestContext.requestTimeEpoch = "<requestTimeEpoch>"
              requestContext.resourceId = "1b7s2v"
              requestContext.resourcePath = "/upload"
              requestContext.stage = "Prod"
              resource = "/upload"
              stageVariables.env = "test"
            response 200
            content-type: application/json
            x-amzn-requestid: <id>
            x-amz-apigw-id: <id>
            content-length: 0
            body: ""
        "#]],
    )
    .await;
}
