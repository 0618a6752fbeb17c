//! The host names Serverful answers for over TLS: the certificate's names (wildcards) and
//! the exact names a sandbox's `/etc/hosts` lists (which cannot hold wildcards).

/// The services on the AWS endpoint, by the first labels of their regional host name
/// (`{service}.{region}.amazonaws.com`). The management API of WebSocket APIs answers on
/// `execute-api` and on each API's own host ([`api_host_names`]).
pub const AWS_SERVICES: &[&str] = &[
    "dynamodb",
    "streams.dynamodb",
    "sqs",
    "sns",
    "events",
    "lambda",
    "execute-api",
    "s3",
];

/// Names of the services that also answer without a region: S3's global endpoint, which
/// older SDKs use for `us-east-1`.
pub const GLOBAL_HOST_NAMES: &[&str] = &["s3.amazonaws.com"];

/// The regional host names of [`AWS_SERVICES`] in `region`, e.g.
/// `dynamodb.us-east-1.amazonaws.com`.
pub fn service_host_names(region: &str) -> Vec<String> {
    AWS_SERVICES
        .iter()
        .map(|service| format!("{service}.{region}.amazonaws.com"))
        .chain(GLOBAL_HOST_NAMES.iter().map(|name| (*name).to_owned()))
        .collect()
}

/// The host names of the APIs `api_ids`: AWS's (`{id}.execute-api.{region}.amazonaws.com`)
/// and Serverful's own (`{id}.execute-api.{domain}`).
pub fn api_host_names<'a>(
    api_ids: impl IntoIterator<Item = &'a str>,
    region: &str,
    domain: &str,
) -> Vec<String> {
    api_ids
        .into_iter()
        .flat_map(|id| {
            [
                format!("{id}.execute-api.{region}.amazonaws.com"),
                format!("{id}.execute-api.{domain}"),
            ]
        })
        .collect()
}

/// The names the leaf certificate covers: every service of `region` (one wildcard covers
/// the one-label names; two-label ones are listed), every API on AWS's and on Serverful's
/// host names, and loopback by name and address (a `domainName` such as `127.0.0.1:3000`).
pub fn served_names(region: &str, domain: &str) -> Vec<String> {
    let mut names = vec![format!("*.{region}.amazonaws.com")];
    names.extend(
        AWS_SERVICES
            .iter()
            .filter(|service| service.contains('.'))
            .map(|service| format!("{service}.{region}.amazonaws.com")),
    );
    names.push(format!("*.execute-api.{region}.amazonaws.com"));
    // S3's buckets by virtual host, regional and global.
    names.push(format!("*.s3.{region}.amazonaws.com"));
    names.extend(GLOBAL_HOST_NAMES.iter().map(|name| (*name).to_owned()));
    names.push("*.s3.amazonaws.com".to_owned());
    let own_apis = format!("*.execute-api.{domain}");
    if !names.contains(&own_apis) {
        names.push(own_apis);
    }
    names.push("localhost".to_owned());
    names.push("127.0.0.1".to_owned());
    names
}

#[cfg(test)]
mod tests {
    use expect_test::expect;

    use super::*;

    #[test]
    fn names_of_a_region() {
        expect![[r#"
            [
                "dynamodb.eu-west-1.amazonaws.com",
                "streams.dynamodb.eu-west-1.amazonaws.com",
                "sqs.eu-west-1.amazonaws.com",
                "sns.eu-west-1.amazonaws.com",
                "events.eu-west-1.amazonaws.com",
                "lambda.eu-west-1.amazonaws.com",
                "execute-api.eu-west-1.amazonaws.com",
                "s3.eu-west-1.amazonaws.com",
                "s3.amazonaws.com",
            ]
        "#]]
        .assert_debug_eq(&service_host_names("eu-west-1"));
        expect![[r#"
            [
                "abc123defg.execute-api.eu-west-1.amazonaws.com",
                "abc123defg.execute-api.localhost",
            ]
        "#]]
        .assert_debug_eq(&api_host_names(["abc123defg"], "eu-west-1", "localhost"));
        expect![[r#"
            [
                "*.eu-west-1.amazonaws.com",
                "streams.dynamodb.eu-west-1.amazonaws.com",
                "*.execute-api.eu-west-1.amazonaws.com",
                "*.s3.eu-west-1.amazonaws.com",
                "s3.amazonaws.com",
                "*.s3.amazonaws.com",
                "*.execute-api.example.com",
                "localhost",
                "127.0.0.1",
            ]
        "#]]
        .assert_debug_eq(&served_names("eu-west-1", "example.com"));
    }
}
