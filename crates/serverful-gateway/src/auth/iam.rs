//! `AWS_IAM` routes: the request must carry a SigV4 signature for `execute-api` made with
//! one of the keys the server's AWS endpoint accepts. The verification is the endpoint's
//! own (`serverful_aws::sigv4`); the refusals are API Gateway's 403s.

use serde_json::{json, Value};
pub(crate) use serverful_aws::execute_api::{SignatureRefusal, Signer};

use super::AuthRequest;

/// Who signed an `AWS_IAM` request, as events report it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Caller {
    access_key: String,
    account_id: String,
}

impl Caller {
    /// HTTP APIs' format 2.0: `requestContext.authorizer.iam`.
    pub(super) fn v2_json(&self) -> Value {
        json!({
            "accessKey": self.access_key,
            "accountId": self.account_id,
            "callerId": self.access_key,
            "cognitoIdentity": null,
            "principalOrgId": null,
            "userArn": format!("arn:aws:iam::{}:user/{}", self.account_id, self.access_key),
            "userId": self.access_key,
        })
    }

    /// Format 1.0: the signer in `requestContext.identity`.
    pub(super) fn fill_identity(&self, request_context: &mut Value) {
        let Some(identity) = request_context
            .get_mut("identity")
            .and_then(Value::as_object_mut)
        else {
            return;
        };
        identity.insert("accessKey".to_owned(), json!(self.access_key));
        identity.insert("accountId".to_owned(), json!(self.account_id));
        identity.insert("caller".to_owned(), json!(self.access_key));
        identity.insert("user".to_owned(), json!(self.access_key));
        identity.insert(
            "userArn".to_owned(),
            json!(format!(
                "arn:aws:iam::{}:user/{}",
                self.account_id, self.access_key
            )),
        );
    }
}

/// Checks a request's SigV4 signature for `service` against `keys` (the AWS endpoint's).
pub(crate) fn check_signature(
    keys: Option<&serverful_aws::KeyRing>,
    data: &crate::event::RequestData,
    service: &str,
) -> Result<Signer, SignatureRefusal> {
    let signed = serverful_aws::sigv4::SignedRequest {
        method: &data.method,
        path: &data.raw_path,
        query: &data.raw_query,
        headers: &data.headers,
        body: &data.body,
    };
    serverful_aws::execute_api::check_signature(keys, &signed, service)
}

/// Why an `AWS_IAM` request is refused.
pub(super) enum IamRefusal {
    /// The signature is missing or does not check out: the message of API Gateway's 403.
    Signature(String),
    /// The signer may not call this route (`execute-api:Invoke`): the denial's message.
    Denied(String),
}

/// The signer, if it may call the route: the master keys may call any, a stack's keys
/// the routes of its own APIs.
pub(super) fn authorize(request: &AuthRequest<'_>) -> Result<Caller, IamRefusal> {
    use serverful_aws::authz::{Action, Resource};
    let signer = match check_signature(
        request.state.auth.keys.as_deref(),
        request.data,
        "execute-api",
    ) {
        Ok(signer) => signer,
        Err(SignatureRefusal::Missing) => {
            return Err(IamRefusal::Signature(
                "Missing Authentication Token".to_owned(),
            ))
        }
        Err(SignatureRefusal::Invalid(reason)) => return Err(IamRefusal::Signature(reason)),
    };
    let stage = request
        .found
        .stage
        .as_deref()
        .unwrap_or(&request.api.stage_name);
    // What follows the stage in the `methodArn`: `GET/pets/7`.
    let route = format!("{}{}", request.data.method, request.found.api_path);
    signer
        .principal
        .authorize(
            Action::execute_api("Invoke"),
            Resource::Api {
                stack: &request.api.stack,
                api_id: &request.api.api_id,
                stage,
                route: &route,
            },
            request.state.auth.region(),
        )
        .map_err(|denied| IamRefusal::Denied(denied.message))?;
    Ok(Caller {
        access_key: signer.access_key,
        account_id: request.site.account_id.to_owned(),
    })
}
