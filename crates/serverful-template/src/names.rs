//! Physical names as CloudFormation makes them for resources whose template gives none.
//!
//! CloudFormation names such a resource `{stack}-{LogicalId}-{SUFFIX}`: the stack name and
//! the logical id, shortened when the whole would pass the service's length limit, and an
//! upper-case alphanumeric suffix that makes the name unique. On AWS the suffix is random
//! and kept for the life of the resource; here it is derived from the stack name and the
//! logical id, so every deploy of a stack finds the same tables and functions, and two
//! stacks never share one.

/// How one resource type's generated names look: the service's length limit and the length
/// of CloudFormation's suffix for that type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NameRule {
    /// The longest name the service takes.
    pub max_len: usize,
    /// The characters of the unique suffix.
    pub suffix_len: usize,
}

impl NameRule {
    /// `AWS::Lambda::Function` (and `AWS::Serverless::Function`): names up to 64
    /// characters, such as `my-stack-HelloFunction-4XJH6Q7PZK2M`.
    pub const FUNCTION: NameRule = NameRule {
        max_len: 64,
        suffix_len: 12,
    };
    /// `AWS::DynamoDB::Table` (and `AWS::Serverless::SimpleTable`): names up to 255
    /// characters, such as `my-stack-UsersTable-1N4XQ0ZB2KD7S`.
    pub const TABLE: NameRule = NameRule {
        max_len: 255,
        suffix_len: 13,
    };
    /// `AWS::SQS::Queue`: names up to 80 characters, such as `my-stack-Jobs-1T3R8ZKQ2M4N`
    /// (FIFO queues keep 5 of them for `.fifo`).
    pub const QUEUE: NameRule = NameRule {
        max_len: 80,
        suffix_len: 12,
    };
    /// `AWS::S3::Bucket`: names up to 63 characters, such as `my-stack-uploads-1x2y3z4w5v6u`,
    /// lowercase (see [`bucket_name`]).
    pub const BUCKET: NameRule = NameRule {
        max_len: 63,
        suffix_len: 12,
    };
    /// `AWS::SNS::Topic`: names up to 256 characters, such as `my-stack-Orders-9XK2P4LQ7ZRA`.
    pub const TOPIC: NameRule = NameRule {
        max_len: 256,
        suffix_len: 12,
    };
}

/// The name CloudFormation would give the resource `logical_id` of stack `stack_name` when
/// the template sets no name of its own.
///
/// When `{stack}-{LogicalId}` does not fit beside the suffix, the longer of the two is
/// shortened first (so a short logical id stays whole, as on AWS), and both are shortened
/// to half of the room each when both are long. Characters that AWS names cannot hold
/// (a stack named after a folder such as `my app.v2`) become `-`, and the stack name
/// loses its leading and trailing dashes.
pub fn generated_name(stack_name: &str, logical_id: &str, rule: NameRule) -> String {
    let stack = name_characters(stack_name);
    // A stack named after a hidden folder (`.tmpXYZ`) would start with a dash.
    let stack = stack.trim_matches('-');
    let logical = name_characters(logical_id);
    let suffix = suffix(stack_name, logical_id, rule.suffix_len);
    if stack.is_empty() {
        let room = rule.max_len.saturating_sub(rule.suffix_len + 1);
        return format!("{}-{suffix}", &logical[..logical.len().min(room)]);
    }
    // Two dashes join the three parts.
    let room = rule.max_len.saturating_sub(rule.suffix_len + 2);
    let (stack_len, logical_len) = shortened(stack.len(), logical.len(), room);
    format!(
        "{}-{}-{suffix}",
        &stack[..stack_len],
        &logical[..logical_len]
    )
}

/// The name CloudFormation gives a bucket whose template sets none: as
/// [`generated_name`] with [`NameRule::BUCKET`], lowercase, with `_` (which bucket names
/// cannot hold) as `-`.
pub fn bucket_name(stack_name: &str, logical_id: &str) -> String {
    generated_name(stack_name, logical_id, NameRule::BUCKET)
        .to_ascii_lowercase()
        .replace('_', "-")
}

/// Whether `name` is a valid bucket name: 3 to 63 lowercase letters, digits, dots and
/// hyphens, starting and ending with a letter or digit, with no `..` and not shaped like
/// an IP address.
pub fn is_valid_bucket_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    let edge = |byte: &u8| byte.is_ascii_lowercase() || byte.is_ascii_digit();
    (3..=63).contains(&bytes.len())
        && bytes
            .iter()
            .all(|byte| edge(byte) || *byte == b'.' || *byte == b'-')
        && bytes.first().is_some_and(edge)
        && bytes.last().is_some_and(edge)
        && !name.contains("..")
        && name.parse::<std::net::Ipv4Addr>().is_err()
}

/// The lengths the stack name and the logical id keep in `room` characters.
fn shortened(stack_len: usize, logical_len: usize, room: usize) -> (usize, usize) {
    if stack_len + logical_len <= room {
        return (stack_len, logical_len);
    }
    let half = room / 2;
    if logical_len <= half {
        (room - logical_len, logical_len)
    } else if stack_len <= room - half {
        (stack_len, room - stack_len)
    } else {
        (room - half, half)
    }
}

/// `text` with every character a Lambda function or DynamoDB table name cannot hold
/// replaced by `-`; only ASCII remains, so byte lengths are character counts.
fn name_characters(text: &str) -> String {
    text.chars()
        .map(|character| {
            if character.is_ascii_alphanumeric() || character == '-' || character == '_' {
                character
            } else {
                '-'
            }
        })
        .collect()
}

/// `len` upper-case letters and digits from hashes of the stack name and logical id.
fn suffix(stack_name: &str, logical_id: &str, len: usize) -> String {
    hashed_chars(
        |round| format!("physical-name/{round}/{stack_name}/{logical_id}"),
        len,
        Case::Upper,
    )
}

/// The letters of [`hashed_chars`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Case {
    Upper,
    Lower,
}

/// `len` letters and digits that depend only on the seeds (one for each twelve
/// characters, from `seed(round)`): the stand-in for the random parts of AWS's names and
/// ids, stable from one run and release to the next.
pub(crate) fn hashed_chars(seed: impl Fn(usize) -> String, len: usize, case: Case) -> String {
    let alphabet: &[u8; 36] = match case {
        Case::Upper => b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ",
        Case::Lower => b"0123456789abcdefghijklmnopqrstuvwxyz",
    };
    // Twelve base-36 digits use 62 of a hash's 64 bits; longer strings draw on further
    // hashes, each of its own seed.
    const DIGITS_PER_HASH: usize = 12;
    let mut chars = String::with_capacity(len);
    let mut hash = 0;
    for digit_idx in 0..len {
        if digit_idx % DIGITS_PER_HASH == 0 {
            let round = digit_idx / DIGITS_PER_HASH;
            hash = fnv1a(&seed(round));
        }
        chars.push(char::from(alphabet[(hash % 36) as usize]));
        hash /= 36;
    }
    chars
}

/// 64-bit FNV-1a: stable across Rust versions and platforms, unlike `DefaultHasher`, so
/// ids and names derived from it never drift between releases.
pub(crate) fn fnv1a(text: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

#[cfg(test)]
mod tests {
    use expect_test::expect;

    use super::{generated_name, NameRule};

    /// Names are where a stack's tables live: they must not drift between releases.
    #[test]
    fn names_are_stable_and_fit() {
        let long_stack = "a-stack-name-that-goes-on-and-on-for-quite-a-while";
        let long_id = "AFunctionWhoseLogicalIdIsMuchLongerThanAnyoneWouldWrite";
        let names = [
            generated_name("demo", "HelloFunction", NameRule::FUNCTION),
            generated_name("demo", "UsersTable", NameRule::TABLE),
            generated_name("other", "UsersTable", NameRule::TABLE),
            generated_name("demo", "T", NameRule::TABLE),
            generated_name(long_stack, "Fn", NameRule::FUNCTION),
            generated_name("demo", long_id, NameRule::FUNCTION),
            generated_name(long_stack, long_id, NameRule::FUNCTION),
            generated_name("my app.v2", "Fn", NameRule::FUNCTION),
            generated_name(".tmpAb3", "Fn", NameRule::FUNCTION),
            generated_name("...", "Fn", NameRule::FUNCTION),
        ];
        let rendered: Vec<String> = names
            .iter()
            .map(|name| format!("{name} ({})", name.len()))
            .collect();
        expect![[r#"
            demo-HelloFunction-CMYCG4N5I6N4 (31)
            demo-UsersTable-497U0Z31UBBXF (29)
            other-UsersTable-ZIZXPALKL4XKA (30)
            demo-T-C3WD7NGVZQ64H (20)
            a-stack-name-that-goes-on-and-on-for-quite-a-whi-Fn-RFHJKKO77Y2S (64)
            demo-AFunctionWhoseLogicalIdIsMuchLongerThanAnyoneW-KKVY47EO5VPU (64)
            a-stack-name-that-goes-on-AFunctionWhoseLogicalIdIs-XIW413A1ZB3Q (64)
            my-app-v2-Fn-2XANWCP9A2A6 (25)
            tmpAb3-Fn-QIMVGS2DRRDA (22)
            Fn-R1CQL8BOZ5EA (15)"#]]
        .assert_eq(&rendered.join("\n"));
    }
}
