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

/// A request whose SigV4 signature checked out against the endpoint's keys.
pub(crate) struct Signer {
    pub(crate) access_key: String,
    /// The region of the signature's credential scope.
    pub(crate) region: String,
    pub(crate) principal: std::sync::Arc<serverful_aws::authz::Principal>,
}

/// Why a signature was refused.
pub(crate) enum SignatureRefusal {
    /// No signature at all.
    Missing,
    /// A signature that does not check out, with the reason.
    Invalid(String),
}

const INVALID_TOKEN: &str = "The security token included in the request is invalid.";

/// Checks a request's SigV4 signature for `service` against `keys` (the AWS endpoint's),
/// and its session token: the one check of `AWS_IAM` routes and function URLs.
pub(crate) fn check_signature(
    keys: Option<&serverful_aws::KeyRing>,
    data: &crate::event::RequestData,
    service: &str,
) -> Result<Signer, SignatureRefusal> {
    use serverful_aws::sigv4::{verify, AuthError, Expectations, SignedRequest};
    let Some(keys) = keys else {
        return Err(SignatureRefusal::Invalid(INVALID_TOKEN.to_owned()));
    };
    let identities = keys.snapshot();
    let signed = SignedRequest {
        method: &data.method,
        path: &data.raw_path,
        query: &data.raw_query,
        headers: &data.headers,
        body: &data.body,
    };
    let expect = Expectations {
        keys: identities.as_ref(),
        service,
        required_signed_headers: &[],
        now: OffsetDateTime::now_utc(),
    };
    match verify(&signed, &expect) {
        Ok(verified) => {
            let identity = identities
                .get(&verified.access_key_id)
                .filter(|identity| identity.accepts_token(&data.headers, &data.raw_query))
                .ok_or_else(|| SignatureRefusal::Invalid(INVALID_TOKEN.to_owned()))?;
            Ok(Signer {
                principal: identity.principal.clone(),
                access_key: verified.access_key_id,
                region: verified.region,
            })
        }
        Err(AuthError::MissingAuthenticationToken) => Err(SignatureRefusal::Missing),
        Err(error) => Err(SignatureRefusal::Invalid(error.to_string())),
    }
}

/// The signer, or the message of API Gateway's 403.
pub(super) fn authorize(request: &AuthRequest<'_>) -> Result<Caller, String> {
    match check_signature(
        request.state.auth.keys.as_deref(),
        request.data,
        "execute-api",
    ) {
        Ok(signer) => Ok(Caller {
            access_key: signer.access_key,
            account_id: request.site.account_id.to_owned(),
        }),
        Err(SignatureRefusal::Missing) => Err("Missing Authentication Token".to_owned()),
        Err(SignatureRefusal::Invalid(reason)) => Err(reason),
    }
}
