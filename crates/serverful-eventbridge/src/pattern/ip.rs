//! IP addresses and CIDR blocks as EventBridge reads them, for `cidr` and for exact
//! values that are IP addresses.

/// An inclusive range of addresses of one family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IpRange {
    pub(crate) v6: bool,
    pub(crate) low: u128,
    pub(crate) high: u128,
}

impl IpRange {
    pub(crate) fn contains(&self, text: &str) -> bool {
        match parse_address(text) {
            Some(Ok((v6, address))) => v6 == self.v6 && self.low <= address && address <= self.high,
            _ => false,
        }
    }
}

/// Reads `text` as an address if it has an address's shape: four dot-separated decimal
/// groups, or hex digits and colons with at least one colon (EventBridge's test before it
/// reads a value as an address). `None`: not shaped like one; `Some(Err)`: shaped like one
/// but not a valid address.
pub(crate) fn parse_address(text: &str) -> Option<Result<(bool, u128), ()>> {
    if looks_like_v4(text) {
        let mut value: u128 = 0;
        for group in text.split('.') {
            // Decimal groups, leading zeros allowed, each at most 255.
            let Some(number) = group.parse::<u32>().ok().filter(|number| *number <= 255) else {
                return Some(Err(()));
            };
            value = (value << 8) | u128::from(number);
        }
        return Some(Ok((false, value)));
    }
    if looks_like_v6(text) {
        return Some(
            text.parse::<std::net::Ipv6Addr>()
                .map(|address| (true, u128::from(address)))
                .map_err(drop),
        );
    }
    None
}

fn looks_like_v4(text: &str) -> bool {
    let groups: Vec<&str> = text.split('.').collect();
    groups.len() == 4
        && groups
            .iter()
            .all(|group| !group.is_empty() && group.bytes().all(|b| b.is_ascii_digit()))
}

fn looks_like_v6(text: &str) -> bool {
    text.contains(':') && text.bytes().all(|b| b == b':' || b.is_ascii_hexdigit())
}

/// Reads a `cidr` value. As EventBridge does, the block starts at the address given (its
/// host bits are not cleared) and ends where every host bit is set.
pub(crate) fn parse_cidr(text: &str) -> Result<IpRange, String> {
    // Split as Java's String.split does: trailing empty pieces are dropped.
    let mut pieces: Vec<&str> = text.split('/').collect();
    while pieces.len() > 1 && pieces.last() == Some(&"") {
        pieces.pop();
    }
    if pieces.len() != 2 {
        return Err("Malformed CIDR, one '/' required".to_string());
    }
    let mask_bits: i64 = pieces[1]
        .parse()
        .map_err(|_| "Malformed CIDR, mask bits must be an integer".to_string())?;
    if mask_bits < 0 {
        return Err("Malformed CIDR, mask bits must not be negative".to_string());
    }
    let (v6, address) = match parse_address(pieces[0]) {
        Some(Ok(parsed)) => parsed,
        Some(Err(())) => return Err(format!("Invalid IP address: {}", pieces[0])),
        None => return Err(format!("Nonstandard IP address: {}", pieces[0])),
    };
    let width: i64 = if v6 { 128 } else { 32 };
    if mask_bits > width - 1 {
        return Err(if v6 {
            "IPv6 mask bits must be < 128"
        } else {
            "IPv4 mask bits must be < 32"
        }
        .to_string());
    }
    let host_bits = (width - mask_bits) as u32;
    let host_mask = if host_bits >= 128 {
        u128::MAX
    } else {
        (1u128 << host_bits) - 1
    };
    Ok(IpRange {
        v6,
        low: address,
        high: address | host_mask,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_block() {
        let range = parse_cidr("10.0.0.0/24").expect("valid");
        assert!(range.contains("10.0.0.0"));
        assert!(range.contains("10.0.0.255"));
        assert!(!range.contains("10.0.1.0"));
        assert!(!range.contains("::1"));
        assert!(!range.contains("not an address"));
    }

    #[test]
    fn ipv6_block() {
        let range = parse_cidr("2001:db8::/32").expect("valid");
        assert!(range.contains("2001:db8::1"));
        assert!(range.contains("2001:0db8:ffff:ffff:ffff:ffff:ffff:ffff"));
        assert!(!range.contains("2001:db9::1"));
        assert!(!range.contains("10.0.0.1"));
    }

    #[test]
    fn block_starts_at_the_given_address() {
        let range = parse_cidr("10.0.0.5/24").expect("valid");
        assert!(!range.contains("10.0.0.4"));
        assert!(range.contains("10.0.0.5"));
        assert!(range.contains("10.0.0.255"));
    }

    #[test]
    fn errors() {
        assert_eq!(
            parse_cidr("10.0.0.0").expect_err("refused"),
            "Malformed CIDR, one '/' required"
        );
        assert_eq!(
            parse_cidr("10.0.0.0/x").expect_err("refused"),
            "Malformed CIDR, mask bits must be an integer"
        );
        assert_eq!(
            parse_cidr("10.0.0.0/-1").expect_err("refused"),
            "Malformed CIDR, mask bits must not be negative"
        );
        assert_eq!(
            parse_cidr("10.0.0.0/32").expect_err("refused"),
            "IPv4 mask bits must be < 32"
        );
        assert_eq!(
            parse_cidr("::/128").expect_err("refused"),
            "IPv6 mask bits must be < 128"
        );
        assert_eq!(
            parse_cidr("300.0.0.0/8").expect_err("refused"),
            "Invalid IP address: 300.0.0.0"
        );
        assert_eq!(
            parse_cidr("example.com/8").expect_err("refused"),
            "Nonstandard IP address: example.com"
        );
    }
}
