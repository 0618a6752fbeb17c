//! `AWS_IAM` routes: the request must carry a SigV4 signature for `execute-api` made with
//! one of the keys the server's AWS endpoint accepts. The verification is the endpoint's
//! own (`serverful_aws::sigv4`); the refusals are API Gateway's 403s.

use serde_json::{json, Value};
use time::OffsetDateTime;

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

/// The signer, or the message of API Gateway's 403.
pub(super) fn authorize(request: &AuthRequest<'_>) -> Result<Caller, String> {
    use serverful_aws::sigv4::{verify, AuthError, Expectations, SignedRequest};
    const INVALID_TOKEN: &str = "The security token included in the request is invalid.";
    let Some(keys) = &request.state.auth.keys else {
        return Err(INVALID_TOKEN.to_owned());
    };
    let identities = keys.snapshot();
    let signed = SignedRequest {
        method: &request.data.method,
        path: &request.data.raw_path,
        query: &request.data.raw_query,
        headers: &request.data.headers,
        body: &request.data.body,
    };
    let expect = Expectations {
        keys: identities.as_ref(),
        service: "execute-api",
        required_signed_headers: &[],
        now: OffsetDateTime::now_utc(),
    };
    match verify(&signed, &expect) {
        Ok(verified) => {
            let accepts_token = identities
                .get(&verified.access_key_id)
                .is_some_and(|identity| {
                    identity.accepts_token(&request.data.headers, &request.data.raw_query)
                });
            if !accepts_token {
                return Err(INVALID_TOKEN.to_owned());
            }
            Ok(Caller {
                access_key: verified.access_key_id,
                account_id: request.site.account_id.to_owned(),
            })
        }
        Err(AuthError::MissingAuthenticationToken) => {
            Err("Missing Authentication Token".to_owned())
        }
        Err(error) => Err(error.to_string()),
    }
}
