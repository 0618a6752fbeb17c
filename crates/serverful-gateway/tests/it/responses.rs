//! Function results turned into HTTP responses: format 1.0, format 2.0 and its inference rules.

use axum::body::Body;
use expect_test::expect;
use http::Request;
use serverful_gateway::PayloadFormat;

use crate::{check, get, http_api, rest_api, route};

#[tokio::test]
async fn v1_headers_merge_with_multi_value_headers() {
    let result = br#"{
        "statusCode": 201,
        "headers": {"Content-Type": "text/plain", "X-Single": "one", "X-Both": "a"},
        "multiValueHeaders": {"X-Both": ["a", "b"], "Set-Cookie": ["a=1", "b=2"]},
        "body": "created",
        "isBase64Encoded": false
    }"#;
    check(
        vec![rest_api(vec![route("GET", "/", "Root")])],
        get("/Prod/"),
        Ok(result),
        expect![[r#"
            invoked app/Root with
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
              path = "/"
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
              requestContext.path = "/Prod/"
              requestContext.protocol = "HTTP/1.1"
              requestContext.requestId = "<requestId>"
              requestContext.requestTime = "<requestTime>"
              requestContext.requestTimeEpoch = "<requestTimeEpoch>"
              requestContext.resourceId = "wjysuz"
              requestContext.resourcePath = "/"
              requestContext.stage = "Prod"
              resource = "/"
              stageVariables.env = "test"
            response 201
            set-cookie: a=1
            set-cookie: b=2
            x-both: a
            x-both: b
            content-type: text/plain
            x-single: one
            x-amzn-requestid: <id>
            x-amz-apigw-id: <id>
            content-length: 7
            body: "created"
        "#]],
    )
    .await;
}

#[tokio::test]
async fn v1_without_content_type_defaults_to_json() {
    let result = br#"{"statusCode": 200, "body": "{\"ok\":true}"}"#;
    check(
        vec![rest_api(vec![route("GET", "/", "Root")])],
        get("/"),
        Ok(result),
        expect![[r#"
            invoked app/Root with
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
              path = "/"
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
              requestContext.path = "/Prod/"
              requestContext.protocol = "HTTP/1.1"
              requestContext.requestId = "<requestId>"
              requestContext.requestTime = "<requestTime>"
              requestContext.requestTimeEpoch = "<requestTimeEpoch>"
              requestContext.resourceId = "wjysuz"
              requestContext.resourcePath = "/"
              requestContext.stage = "Prod"
              resource = "/"
              stageVariables.env = "test"
            response 200
            content-type: application/json
            x-amzn-requestid: <id>
            x-amz-apigw-id: <id>
            content-length: 11
            body: "{\"ok\":true}"
        "#]],
    )
    .await;
}

#[tokio::test]
async fn v1_base64_bodies_decode_for_binary_media_types_only() {
    let api = || vec![rest_api(vec![route("GET", "/image", "Image")])];
    let image = br#"{"statusCode": 200, "headers": {"content-type": "image/png"}, "body": "iVBORw==", "isBase64Encoded": true}"#;
    let unknown = br#"{"statusCode": 200, "headers": {"content-type": "font/woff2"}, "body": "d09GMg==", "isBase64Encoded": true}"#;
    check(
        api(),
        get("/image"),
        Ok(image),
        expect![[r#"
            invoked app/Image with
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
              path = "/image"
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
              requestContext.path = "/Prod/image"
              requestContext.protocol = "HTTP/1.1"
              requestContext.requestId = "<requestId>"
              requestContext.requestTime = "<requestTime>"
              requestContext.requestTimeEpoch = "<requestTimeEpoch>"
              requestContext.resourceId = "lj4upp"
              requestContext.resourcePath = "/image"
              requestContext.stage = "Prod"
              resource = "/image"
              stageVariables.env = "test"
            response 200
            content-type: image/png
            x-amzn-requestid: <id>
            x-amz-apigw-id: <id>
            content-length: 4
            body (binary): [137, 80, 78, 71]
        "#]],
    )
    .await;
    // The function's content type is no binary media type, but the client accepts one.
    let accepting = Request::get("/image")
        .header("accept", "application/octet-stream")
        .body(Body::empty());
    check(
        api(),
        accepting.expect("a valid request"),
        Ok(unknown),
        expect![[r#"
            invoked app/Image with
              body = null
              headers.accept = "application/octet-stream"
              headers.x-forwarded-for = "127.0.0.1"
              headers.x-forwarded-port = "3000"
              headers.x-forwarded-proto = "http"
              httpMethod = "GET"
              isBase64Encoded = false
              multiValueHeaders.accept = ["application/octet-stream"]
              multiValueHeaders.x-forwarded-for = ["127.0.0.1"]
              multiValueHeaders.x-forwarded-port = ["3000"]
              multiValueHeaders.x-forwarded-proto = ["http"]
              multiValueQueryStringParameters = null
              path = "/image"
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
              requestContext.path = "/Prod/image"
              requestContext.protocol = "HTTP/1.1"
              requestContext.requestId = "<requestId>"
              requestContext.requestTime = "<requestTime>"
              requestContext.requestTimeEpoch = "<requestTimeEpoch>"
              requestContext.resourceId = "lj4upp"
              requestContext.resourcePath = "/image"
              requestContext.stage = "Prod"
              resource = "/image"
              stageVariables.env = "test"
            response 200
            content-type: font/woff2
            x-amzn-requestid: <id>
            x-amz-apigw-id: <id>
            content-length: 4
            body: "wOF2"
        "#]],
    )
    .await;
    check(
        api(),
        get("/image"),
        Ok(unknown),
        expect![[r#"
            invoked app/Image with
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
              path = "/image"
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
              requestContext.path = "/Prod/image"
              requestContext.protocol = "HTTP/1.1"
              requestContext.requestId = "<requestId>"
              requestContext.requestTime = "<requestTime>"
              requestContext.requestTimeEpoch = "<requestTimeEpoch>"
              requestContext.resourceId = "lj4upp"
              requestContext.resourcePath = "/image"
              requestContext.stage = "Prod"
              resource = "/image"
              stageVariables.env = "test"
            response 200
            content-type: font/woff2
            x-amzn-requestid: <id>
            x-amz-apigw-id: <id>
            content-length: 8
            body: "d09GMg=="
        "#]],
    )
    .await;
}

#[tokio::test]
async fn v1_results_on_http_api_routes() {
    let mut v1_route = route("GET", "/v1", "V1");
    v1_route.payload_format = PayloadFormat::V1;
    let api = || vec![http_api(vec![v1_route.clone()])];
    // HTTP APIs decode base64 whatever the content type, and tolerate extra keys.
    let result = br#"{"statusCode": 200, "body": "aGk=", "isBase64Encoded": true, "extra": 1}"#;
    check(
        api(),
        get("/v1"),
        Ok(result),
        expect![[r#"
            invoked app/V1 with
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
              path = "/v1"
              pathParameters = null
              queryStringParameters = null
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
              requestContext.path = "/v1"
              requestContext.protocol = "HTTP/1.1"
              requestContext.requestId = "<requestId>"
              requestContext.requestTime = "<requestTime>"
              requestContext.requestTimeEpoch = "<requestTimeEpoch>"
              requestContext.resourceId = null
              requestContext.resourcePath = "/v1"
              requestContext.stage = "$default"
              resource = "/v1"
              stageVariables = null
              version = "1.0"
            response 200
            content-type: application/json
            apigw-requestid: <id>
            content-length: 2
            body: "hi"
        "#]],
    )
    .await;
    // But format 1.0 still needs a status code.
    check(
        api(),
        get("/v1"),
        Ok(br#"{"body": "hi"}"#),
        expect![[r#"
            invoked app/V1 with
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
              path = "/v1"
              pathParameters = null
              queryStringParameters = null
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
              requestContext.path = "/v1"
              requestContext.protocol = "HTTP/1.1"
              requestContext.requestId = "<requestId>"
              requestContext.requestTime = "<requestTime>"
              requestContext.requestTimeEpoch = "<requestTimeEpoch>"
              requestContext.resourceId = null
              requestContext.resourcePath = "/v1"
              requestContext.stage = "$default"
              resource = "/v1"
              stageVariables = null
              version = "1.0"
            response 502
            content-type: application/json
            apigw-requestid: <id>
            content-length: 35
            body: "{\"message\":\"Internal server error\"}"
        "#]],
    )
    .await;
}

#[tokio::test]
async fn v2_structured_response_with_cookies_and_binary_body() {
    let result = br#"{
        "statusCode": 200,
        "headers": {"content-type": "application/octet-stream", "x-list": "a,b"},
        "cookies": ["session=abc; Path=/", "theme=dark"],
        "body": "AP/+",
        "isBase64Encoded": true
    }"#;
    check(
        vec![http_api(vec![route("GET", "/file", "File")])],
        get("/file"),
        Ok(result),
        expect![[r#"
            invoked app/File with
              headers.x-forwarded-for = "127.0.0.1"
              headers.x-forwarded-port = "3000"
              headers.x-forwarded-proto = "http"
              isBase64Encoded = false
              rawPath = "/file"
              rawQueryString = ""
              requestContext.accountId = "123456789012"
              requestContext.apiId = "httpapi123"
              requestContext.domainName = "127.0.0.1:3000"
              requestContext.domainPrefix = "127.0.0.1"
              requestContext.http.method = "GET"
              requestContext.http.path = "/file"
              requestContext.http.protocol = "HTTP/1.1"
              requestContext.http.sourceIp = "127.0.0.1"
              requestContext.http.userAgent = ""
              requestContext.requestId = "<requestId>"
              requestContext.routeKey = "GET /file"
              requestContext.stage = "$default"
              requestContext.time = "<time>"
              requestContext.timeEpoch = "<timeEpoch>"
              routeKey = "GET /file"
              version = "2.0"
            response 200
            content-type: application/octet-stream
            x-list: a,b
            set-cookie: session=abc; Path=/
            set-cookie: theme=dark
            apigw-requestid: <id>
            content-length: 3
            body (binary): [0, 255, 254]
        "#]],
    )
    .await;
}

#[tokio::test]
async fn v2_infers_responses_from_plain_values() {
    let api = || vec![http_api(vec![route("GET", "/infer", "Infer")])];
    check(
        api(),
        get("/infer"),
        Ok(br#""Hello from Lambda!""#),
        expect![[r#"
            invoked app/Infer with
              headers.x-forwarded-for = "127.0.0.1"
              headers.x-forwarded-port = "3000"
              headers.x-forwarded-proto = "http"
              isBase64Encoded = false
              rawPath = "/infer"
              rawQueryString = ""
              requestContext.accountId = "123456789012"
              requestContext.apiId = "httpapi123"
              requestContext.domainName = "127.0.0.1:3000"
              requestContext.domainPrefix = "127.0.0.1"
              requestContext.http.method = "GET"
              requestContext.http.path = "/infer"
              requestContext.http.protocol = "HTTP/1.1"
              requestContext.http.sourceIp = "127.0.0.1"
              requestContext.http.userAgent = ""
              requestContext.requestId = "<requestId>"
              requestContext.routeKey = "GET /infer"
              requestContext.stage = "$default"
              requestContext.time = "<time>"
              requestContext.timeEpoch = "<timeEpoch>"
              routeKey = "GET /infer"
              version = "2.0"
            response 200
            content-type: application/json
            apigw-requestid: <id>
            content-length: 18
            body: "Hello from Lambda!"
        "#]],
    )
    .await;
    check(
        api(),
        get("/infer"),
        Ok(b"42"),
        expect![[r#"
            invoked app/Infer with
              headers.x-forwarded-for = "127.0.0.1"
              headers.x-forwarded-port = "3000"
              headers.x-forwarded-proto = "http"
              isBase64Encoded = false
              rawPath = "/infer"
              rawQueryString = ""
              requestContext.accountId = "123456789012"
              requestContext.apiId = "httpapi123"
              requestContext.domainName = "127.0.0.1:3000"
              requestContext.domainPrefix = "127.0.0.1"
              requestContext.http.method = "GET"
              requestContext.http.path = "/infer"
              requestContext.http.protocol = "HTTP/1.1"
              requestContext.http.sourceIp = "127.0.0.1"
              requestContext.http.userAgent = ""
              requestContext.requestId = "<requestId>"
              requestContext.routeKey = "GET /infer"
              requestContext.stage = "$default"
              requestContext.time = "<time>"
              requestContext.timeEpoch = "<timeEpoch>"
              routeKey = "GET /infer"
              version = "2.0"
            response 200
            content-type: application/json
            apigw-requestid: <id>
            content-length: 2
            body: "42"
        "#]],
    )
    .await;
    check(
        api(),
        get("/infer"),
        Ok(br#"{ "message": "Hello from Lambda!" }"#),
        expect![[r#"
            invoked app/Infer with
              headers.x-forwarded-for = "127.0.0.1"
              headers.x-forwarded-port = "3000"
              headers.x-forwarded-proto = "http"
              isBase64Encoded = false
              rawPath = "/infer"
              rawQueryString = ""
              requestContext.accountId = "123456789012"
              requestContext.apiId = "httpapi123"
              requestContext.domainName = "127.0.0.1:3000"
              requestContext.domainPrefix = "127.0.0.1"
              requestContext.http.method = "GET"
              requestContext.http.path = "/infer"
              requestContext.http.protocol = "HTTP/1.1"
              requestContext.http.sourceIp = "127.0.0.1"
              requestContext.http.userAgent = ""
              requestContext.requestId = "<requestId>"
              requestContext.routeKey = "GET /infer"
              requestContext.stage = "$default"
              requestContext.time = "<time>"
              requestContext.timeEpoch = "<timeEpoch>"
              routeKey = "GET /infer"
              version = "2.0"
            response 200
            content-type: application/json
            apigw-requestid: <id>
            content-length: 35
            body: "{ \"message\": \"Hello from Lambda!\" }"
        "#]],
    )
    .await;
    check(
        api(),
        get("/infer"),
        Ok(br#"[1, 2]"#),
        expect![[r#"
            invoked app/Infer with
              headers.x-forwarded-for = "127.0.0.1"
              headers.x-forwarded-port = "3000"
              headers.x-forwarded-proto = "http"
              isBase64Encoded = false
              rawPath = "/infer"
              rawQueryString = ""
              requestContext.accountId = "123456789012"
              requestContext.apiId = "httpapi123"
              requestContext.domainName = "127.0.0.1:3000"
              requestContext.domainPrefix = "127.0.0.1"
              requestContext.http.method = "GET"
              requestContext.http.path = "/infer"
              requestContext.http.protocol = "HTTP/1.1"
              requestContext.http.sourceIp = "127.0.0.1"
              requestContext.http.userAgent = ""
              requestContext.requestId = "<requestId>"
              requestContext.routeKey = "GET /infer"
              requestContext.stage = "$default"
              requestContext.time = "<time>"
              requestContext.timeEpoch = "<timeEpoch>"
              routeKey = "GET /infer"
              version = "2.0"
            response 200
            content-type: application/json
            apigw-requestid: <id>
            content-length: 6
            body: "[1, 2]"
        "#]],
    )
    .await;
    check(
        api(),
        get("/infer"),
        Ok(br#"{"statusCode": 404, "body": "nope"}"#),
        expect![[r#"
            invoked app/Infer with
              headers.x-forwarded-for = "127.0.0.1"
              headers.x-forwarded-port = "3000"
              headers.x-forwarded-proto = "http"
              isBase64Encoded = false
              rawPath = "/infer"
              rawQueryString = ""
              requestContext.accountId = "123456789012"
              requestContext.apiId = "httpapi123"
              requestContext.domainName = "127.0.0.1:3000"
              requestContext.domainPrefix = "127.0.0.1"
              requestContext.http.method = "GET"
              requestContext.http.path = "/infer"
              requestContext.http.protocol = "HTTP/1.1"
              requestContext.http.sourceIp = "127.0.0.1"
              requestContext.http.userAgent = ""
              requestContext.requestId = "<requestId>"
              requestContext.routeKey = "GET /infer"
              requestContext.stage = "$default"
              requestContext.time = "<time>"
              requestContext.timeEpoch = "<timeEpoch>"
              routeKey = "GET /infer"
              version = "2.0"
            response 404
            content-type: application/json
            apigw-requestid: <id>
            content-length: 4
            body: "nope"
        "#]],
    )
    .await;
    // Not JSON at all: nothing to infer from.
    check(
        api(),
        get("/infer"),
        Ok(b"Hello"),
        expect![[r#"
            invoked app/Infer with
              headers.x-forwarded-for = "127.0.0.1"
              headers.x-forwarded-port = "3000"
              headers.x-forwarded-proto = "http"
              isBase64Encoded = false
              rawPath = "/infer"
              rawQueryString = ""
              requestContext.accountId = "123456789012"
              requestContext.apiId = "httpapi123"
              requestContext.domainName = "127.0.0.1:3000"
              requestContext.domainPrefix = "127.0.0.1"
              requestContext.http.method = "GET"
              requestContext.http.path = "/infer"
              requestContext.http.protocol = "HTTP/1.1"
              requestContext.http.sourceIp = "127.0.0.1"
              requestContext.http.userAgent = ""
              requestContext.requestId = "<requestId>"
              requestContext.routeKey = "GET /infer"
              requestContext.stage = "$default"
              requestContext.time = "<time>"
              requestContext.timeEpoch = "<timeEpoch>"
              routeKey = "GET /infer"
              version = "2.0"
            response 502
            content-type: application/json
            apigw-requestid: <id>
            content-length: 35
            body: "{\"message\":\"Internal server error\"}"
        "#]],
    )
    .await;
}

#[tokio::test]
async fn malformed_v1_results_are_502() {
    let api = || vec![rest_api(vec![route("GET", "/bad", "Bad")])];
    let mut out = String::new();
    for result in [
        &br#""just a string""#[..],
        br#"{"body": "no status"}"#,
        br#"{"statusCode": "200"}"#,
        br#"{"statusCode": 200, "unexpected": true}"#,
        br#"{"statusCode": 200, "body": {"not": "a string"}}"#,
        br#"{"statusCode": 200, "headers": {"bad header": "x"}}"#,
        b"",
    ] {
        let response = crate::run(api(), get("/bad"), Ok(result)).await;
        let status = response
            .lines()
            .find(|line| line.starts_with("response"))
            .unwrap_or_default();
        let body = response
            .lines()
            .find(|line| line.starts_with("body"))
            .unwrap_or_default();
        out.push_str(&format!(
            "{} => {status}, {body}\n",
            String::from_utf8_lossy(result)
        ));
    }
    expect![[r#"
        "just a string" => response 502, body: "{\"message\":\"Internal server error\"}"
        {"body": "no status"} => response 502, body: "{\"message\":\"Internal server error\"}"
        {"statusCode": "200"} => response 502, body: "{\"message\":\"Internal server error\"}"
        {"statusCode": 200, "unexpected": true} => response 502, body: "{\"message\":\"Internal server error\"}"
        {"statusCode": 200, "body": {"not": "a string"}} => response 502, body: "{\"message\":\"Internal server error\"}"
        {"statusCode": 200, "headers": {"bad header": "x"}} => response 502, body: "{\"message\":\"Internal server error\"}"
         => response 502, body: "{\"message\":\"Internal server error\"}"
    "#]].assert_eq(&out);
}

#[tokio::test]
async fn most_specific_route_wins_through_the_router() {
    let apis = || {
        vec![http_api(vec![
            route("ANY", "$default", "Default"),
            route("ANY", "/{proxy+}", "Proxy"),
            route("GET", "/pets/{id}", "Pet"),
            route("GET", "/pets/dog", "Dog"),
        ])]
    };
    let mut functions = Vec::new();
    for (method, path) in [
        ("GET", "/pets/dog"),
        ("GET", "/pets/cat"),
        ("POST", "/pets/dog"),
        ("GET", "/"),
    ] {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .body(Body::empty())
            .expect("a valid request");
        let response = crate::run(apis(), request, Ok(br#"{"statusCode":204}"#)).await;
        let invoked = response.lines().next().unwrap_or_default().to_owned();
        functions.push(format!("{method} {path}: {invoked}"));
    }
    expect![[r#"
        GET /pets/dog: invoked app/Dog with
        GET /pets/cat: invoked app/Pet with
        POST /pets/dog: invoked app/Proxy with
        GET /: invoked app/Default with"#]]
    .assert_eq(&functions.join("\n"));
}
