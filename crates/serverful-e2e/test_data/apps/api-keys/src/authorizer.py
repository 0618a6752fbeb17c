def handler(event, context):
    """Allows every caller; hands API Gateway the API key of the usage plan for the token
    `let-me-in` only (an API whose keys come from its authorizer)."""
    answer = {
        "principalId": "caller",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": event["methodArn"]}
            ],
        },
    }
    if event.get("authorizationToken") == "let-me-in":
        answer["usageIdentifierKey"] = "authorizer-key-0123456789abcdef"
    return answer
