//! The check of `AWS_IAM` function URLs: a request's SigV4 signature (signing name
//! `lambda`) against the AWS endpoint's keys, and whether the signer may take
//! `lambda:InvokeFunctionUrl` on the function, as the gateway's `IamVerifier`.

use std::sync::Arc;

use serverful_aws::authz::{Action, Resource};
use serverful_aws::sigv4::{self, Expectations, SignedRequest};
use serverful_aws::KeyRing;
use serverful_gateway as gateway;

/// Verifies requests against the keys of the AWS endpoint.
pub(crate) struct KeyRingVerifier {
    pub(crate) keys: Arc<KeyRing>,
}

impl gateway::IamVerifier for KeyRingVerifier {
    fn verify(
        &self,
        request: &gateway::SignedHttpRequest<'_>,
        function_name: &str,
        qualifier: Option<&str>,
    ) -> Result<gateway::IamCaller, String> {
        let signed = SignedRequest {
            method: request.method,
            path: request.path,
            query: request.query,
            headers: request.headers,
            body: request.body,
        };
        let identities = self.keys.snapshot();
        let expectations = Expectations {
            keys: &*identities,
            service: "lambda",
            required_signed_headers: &[],
            now: time::OffsetDateTime::now_utc(),
        };
        let verified = sigv4::verify(&signed, &expectations).map_err(|error| error.to_string())?;
        let identity = identities
            .get(&verified.access_key_id)
            .filter(|identity| identity.accepts_token(request.headers, request.query))
            .ok_or_else(|| "the security token included in the request is invalid".to_owned())?;
        let principal = &identity.principal;
        let resource = Resource::Function {
            name: function_name,
            qualifier,
        };
        principal
            .authorize(
                Action::lambda("InvokeFunctionUrl"),
                resource,
                &verified.region,
            )
            .map_err(|denied| denied.to_string())?;
        Ok(gateway::IamCaller {
            access_key: verified.access_key_id.clone(),
            account_id: principal.account_id.clone(),
            caller_id: verified.access_key_id,
            user_arn: principal.arn.clone(),
            user_id: principal
                .arn
                .rsplit(['/', ':'])
                .next()
                .unwrap_or_default()
                .to_owned(),
        })
    }
}
