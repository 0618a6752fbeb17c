//! Public Lambda layers that AWS and AWS's own projects publish, recognised by their
//! version ARNs, for the layers a template names but cannot provide the files of.

/// A layer version ARN taken apart: `arn:PARTITION:lambda:REGION:ACCOUNT:layer:NAME:VERSION`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LayerArn<'a> {
    pub partition: &'a str,
    pub region: &'a str,
    pub account: &'a str,
    pub name: &'a str,
    pub version: u64,
}

impl<'a> LayerArn<'a> {
    /// Parses a layer version ARN; `None` for anything else (a function ARN, a layer ARN
    /// without its version).
    pub fn parse(arn: &'a str) -> Option<LayerArn<'a>> {
        let mut parts = arn.split(':');
        let mut next = || parts.next().filter(|part| !part.is_empty());
        let ("arn", partition, "lambda", region, account, "layer", name, version) = (
            next()?,
            next()?,
            next()?,
            next()?,
            next()?,
            next()?,
            next()?,
            next()?,
        ) else {
            return None;
        };
        if parts.next().is_some() {
            return None;
        }
        let is_account = account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit());
        if !partition.starts_with("aws") || !is_account {
            return None;
        }
        Some(LayerArn {
            partition,
            region,
            account,
            name,
            version: version.parse().ok()?,
        })
    }
}

/// A public layer Serverful knows what to do about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublicLayer {
    /// The AWS Lambda Web Adapter (`LambdaAdapterLayerX86`, `LambdaAdapterLayerArm64`):
    /// what Serverful's HTTP mode does itself.
    WebAdapter,
    /// Powertools for AWS Lambda (Python): the `aws-lambda-powertools` package from PyPI,
    /// laid out under `python/`.
    PowertoolsPython {
        /// The package's major version the layer carries (`AWSLambdaPowertoolsPythonV3-…`
        /// is 3; the unnumbered first layer is 1).
        major: u32,
    },
    /// Powertools for AWS Lambda (TypeScript): the `@aws-lambda-powertools/*` packages
    /// from npm, laid out under `nodejs/node_modules/`.
    PowertoolsTypeScript { major: u32 },
}

/// The account that publishes the Lambda Web Adapter's layers, in every region.
const WEB_ADAPTER_ACCOUNT: &str = "753240598075";
/// The account that publishes Powertools for AWS Lambda (Python)'s layers.
const POWERTOOLS_PYTHON_ACCOUNT: &str = "017000801446";
/// The account that publishes Powertools for AWS Lambda (TypeScript)'s layers.
const POWERTOOLS_TYPESCRIPT_ACCOUNT: &str = "094274105915";

/// The npm packages the Powertools TypeScript layer carries, by the layer's major version.
pub fn powertools_typescript_packages(major: u32) -> &'static [&'static str] {
    if major >= 2 {
        &[
            "@aws-lambda-powertools/commons",
            "@aws-lambda-powertools/logger",
            "@aws-lambda-powertools/metrics",
            "@aws-lambda-powertools/tracer",
            "@aws-lambda-powertools/parameters",
            "@aws-lambda-powertools/idempotency",
            "@aws-lambda-powertools/batch",
            "@aws-lambda-powertools/jmespath",
        ]
    } else {
        &[
            "@aws-lambda-powertools/commons",
            "@aws-lambda-powertools/logger",
            "@aws-lambda-powertools/metrics",
            "@aws-lambda-powertools/tracer",
            "@aws-lambda-powertools/parameters",
            "@aws-lambda-powertools/idempotency",
            "@aws-lambda-powertools/batch",
        ]
    }
}

/// Which known public layer `arn` is, if any.
pub fn public_layer(arn: &str) -> Option<PublicLayer> {
    let arn = LayerArn::parse(arn)?;
    match arn.account {
        WEB_ADAPTER_ACCOUNT
            if matches!(
                arn.name,
                "LambdaAdapterLayerX86" | "LambdaAdapterLayerArm64"
            ) =>
        {
            Some(PublicLayer::WebAdapter)
        }
        POWERTOOLS_PYTHON_ACCOUNT => {
            // `AWSLambdaPowertoolsPython`, `…PythonV2`, `…PythonV2-Arm64`,
            // `…PythonV3-python312-x86_64`: the digits after `V` are the major version.
            let rest = arn.name.strip_prefix("AWSLambdaPowertoolsPython")?;
            Some(PublicLayer::PowertoolsPython {
                major: major_version(rest)?,
            })
        }
        POWERTOOLS_TYPESCRIPT_ACCOUNT => {
            let rest = arn.name.strip_prefix("AWSLambdaPowertoolsTypeScript")?;
            Some(PublicLayer::PowertoolsTypeScript {
                major: major_version(rest)?,
            })
        }
        _ => None,
    }
}

/// The major version in what follows a Powertools layer's base name: `` is 1, `V2`,
/// `V2-Arm64` and `V3-python312-x86_64` are 2, 2 and 3; anything else is not a
/// Powertools layer.
fn major_version(rest: &str) -> Option<u32> {
    if rest.is_empty() {
        return Some(1);
    }
    let digits: String = rest
        .strip_prefix('V')?
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let after = &rest[1 + digits.len()..];
    if !(after.is_empty() || after.starts_with('-')) {
        return None;
    }
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_public_layers() {
        let cases = [
            (
                "arn:aws:lambda:us-east-1:753240598075:layer:LambdaAdapterLayerX86:25",
                Some(PublicLayer::WebAdapter),
            ),
            (
                "arn:aws:lambda:eu-west-1:753240598075:layer:LambdaAdapterLayerArm64:25",
                Some(PublicLayer::WebAdapter),
            ),
            (
                "arn:aws:lambda:eu-west-1:017000801446:layer:AWSLambdaPowertoolsPython:51",
                Some(PublicLayer::PowertoolsPython { major: 1 }),
            ),
            (
                "arn:aws:lambda:eu-west-1:017000801446:layer:AWSLambdaPowertoolsPythonV2-Arm64:79",
                Some(PublicLayer::PowertoolsPython { major: 2 }),
            ),
            (
                "arn:aws:lambda:us-east-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python312-x86_64:7",
                Some(PublicLayer::PowertoolsPython { major: 3 }),
            ),
            (
                "arn:aws:lambda:us-east-1:094274105915:layer:AWSLambdaPowertoolsTypeScriptV2:24",
                Some(PublicLayer::PowertoolsTypeScript { major: 2 }),
            ),
            (
                "arn:aws:lambda:us-east-1:094274105915:layer:AWSLambdaPowertoolsTypeScript:11",
                Some(PublicLayer::PowertoolsTypeScript { major: 1 }),
            ),
            // The right name from another account is someone else's layer.
            (
                "arn:aws:lambda:us-east-1:111111111111:layer:AWSLambdaPowertoolsPythonV3-python312-x86_64:7",
                None,
            ),
            (
                "arn:aws:lambda:us-east-1:017000801446:layer:AWSLambdaPowertoolsPythonVX:1",
                None,
            ),
            (
                "arn:aws:lambda:us-east-1:580247275435:layer:LambdaInsightsExtension:38",
                None,
            ),
            ("arn:aws:lambda:us-east-1:753240598075:layer:LambdaAdapterLayerX86", None),
            ("not an arn", None),
        ];
        for (arn, expected) in cases {
            assert_eq!(public_layer(arn), expected, "{arn}");
        }
    }

    #[test]
    fn layer_arns_parse() {
        assert_eq!(
            LayerArn::parse("arn:aws-cn:lambda:cn-north-1:123456789012:layer:mine:3"),
            Some(LayerArn {
                partition: "aws-cn",
                region: "cn-north-1",
                account: "123456789012",
                name: "mine",
                version: 3,
            })
        );
        assert_eq!(
            LayerArn::parse("arn:aws:lambda:us-east-1:123456789012:function:mine:3"),
            None
        );
        assert_eq!(
            LayerArn::parse("arn:aws:lambda:us-east-1:123456789012:layer:mine:3:4"),
            None
        );
    }
}
