//! Request validation written SAM's way (`Models`, `RequestModel`, `RequestParameters`) and
//! OpenAPI's way (`x-amazon-apigateway-request-validators`), read into the same checks as
//! `AWS::ApiGateway::RequestValidator` resources.

use std::path::Path;

use expect_test::{expect, Expect};

fn check(resources: &str, expect: Expect) {
    expect.assert_eq(&super::api_resources::render(
        resources,
        Path::new("/app/template.yaml"),
    ));
}

#[test]
fn sam_request_model_and_parameters() {
    check(
        r#"
      Events:
        Create:
          Type: Api
          Properties:
            RestApiId: !Ref Api
            Path: /items
            Method: post
            RequestModel:
              Model: Item
              Required: true
              ValidateBody: true
              ValidateParameters: true
            RequestParameters:
              - method.request.header.x-client:
                  Required: true
                  Caching: false
              - method.request.querystring.page
              - method.request.querystring.version:
                  Required: true
        Documented:
          Type: Api
          Properties:
            RestApiId: !Ref Api
            Path: /documented
            Method: post
            RequestModel: {Model: Item}
            RequestParameters: [{method.request.header.x-client: {Required: true}}]
        BodyOnly:
          Type: Api
          Properties:
            RestApiId: !Ref Api
            Path: /body
            Method: post
            RequestModel: {Model: Item, ValidateBody: true}
            RequestParameters: [{method.request.header.x-client: {Required: true}}]
  Api:
    Type: AWS::Serverless::Api
    Properties:
      StageName: prod
      Models:
        Item:
          type: object
          required: [name]
          properties:
            name: {type: string}
"#,
        expect![[r#"
            api Api (rest, id he4pqhwbqw, stage prod)
              POST /items -> Items (1.0) [Create]
                validate body Item {"properties":{"name":{"type":"string"}},"required":["name"],"type":"object"} query ["version"] headers ["x-client"]
              POST /documented -> Items (1.0) [Documented]
              POST /body -> Items (1.0) [BodyOnly]
                validate body Item {"properties":{"name":{"type":"string"}},"required":["name"],"type":"object"} query [] headers []
        "#]],
    );
}

#[test]
fn sam_request_model_naming_an_unknown_model_is_an_error() {
    check(
        r#"
      Events:
        Create:
          Type: Api
          Properties:
            Path: /items
            Method: post
            RequestModel: {Model: Nope, ValidateBody: true}
"#,
        expect![[r#"
            error: /app/template.yaml:16:35: Resources.Items.Properties.Events.Create.Properties.RequestModel.Model: 'Nope' is not one of the Models of ServerlessRestApi (it has none); declare it under the API's Models
        "#]],
    );
    check(
        r#"
      Events:
        Create:
          Type: Api
          Properties:
            Path: /items
            Method: post
            RequestParameters: [method.request.cookie.id]
"#,
        expect![[r#"
            error: /app/template.yaml:16:33: Resources.Items.Properties.Events.Create.Properties.RequestParameters[0]: 'method.request.cookie.id' must start with method.request.header., method.request.querystring. or method.request.path.
        "#]],
    );
}

#[test]
fn openapi_request_validators() {
    check(
        r#"
  Api:
    Type: AWS::Serverless::Api
    Properties:
      StageName: prod
      DefinitionBody:
        swagger: "2.0"
        x-amazon-apigateway-request-validators:
          all: {validateRequestBody: true, validateRequestParameters: true}
          params: {validateRequestBody: false, validateRequestParameters: true}
        x-amazon-apigateway-request-validator: all
        definitions:
          Item:
            type: object
            required: [name, tag]
            properties:
              name: {type: string}
              tag: {$ref: '#/definitions/Tag'}
          Tag: {type: string, enum: [a, b]}
        paths:
          /items:
            parameters:
              - {in: header, name: x-client, required: true, type: string}
            post:
              parameters:
                - {in: query, name: page, required: true, type: string}
                - {in: query, name: sort, type: string}
                - {in: body, name: item, required: true, schema: {$ref: '#/definitions/Item'}}
              x-amazon-apigateway-integration:
                type: aws_proxy
                httpMethod: POST
                uri: !Sub arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${Items.Arn}/invocations
            get:
              x-amazon-apigateway-request-validator: params
              x-amazon-apigateway-integration:
                type: aws_proxy
                httpMethod: POST
                uri: !Sub arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${Items.Arn}/invocations
  Api3:
    Type: AWS::Serverless::Api
    Properties:
      StageName: v3
      DefinitionBody:
        openapi: "3.0.1"
        x-amazon-apigateway-request-validators:
          body: {validateRequestBody: true}
        components:
          schemas:
            Item: {type: object, required: [name]}
        paths:
          /v3/items:
            post:
              x-amazon-apigateway-request-validator: body
              requestBody:
                content:
                  application/json:
                    schema: {$ref: '#/components/schemas/Item'}
              x-amazon-apigateway-integration:
                type: aws_proxy
                httpMethod: POST
                uri: !Sub arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${Items.Arn}/invocations
"#,
        expect![[r##"
            api Api (rest, id he4pqhwbqw, stage prod)
              POST /items -> Items (1.0) [paths./items.post]
                validate body Item {"definitions":{"Item":{"properties":{"name":{"type":"string"},"tag":{"$ref":"#/definitions/Tag"}},"required":["name","tag"],"type":"object"},"Tag":{"enum":["a","b"],"type":"string"}},"properties":{"name":{"type":"string"},"tag":{"$ref":"#/definitions/Tag"}},"required":["name","tag"],"type":"object"} query ["page"] headers ["x-client"]
              GET /items -> Items (1.0) [paths./items.get]
                validate body - query [] headers ["x-client"]
            api Api3 (rest, id adjsndgr7h, stage v3)
              POST /v3/items -> Items (1.0) [paths./v3/items.post]
                validate body Item {"components":{"schemas":{"Item":{"required":["name"],"type":"object"}}},"required":["name"],"type":"object"} query [] headers []
        "##]],
    );
}
