//! AWS SAM template model: YAML with CloudFormation intrinsics in, a resolved app model out.
