//! Time to live: when an item counts as expired.

use crate::value::{AttributeValue, Item, Number};

/// DynamoDB ignores TTL values more than five years in the past, treating them
/// as not meant to expire (they are usually milliseconds by mistake, or
/// unrelated numbers).
pub const MAX_TTL_AGE_SECONDS: i64 = 5 * 365 * 24 * 60 * 60;

/// True if `item` has expired at `now` (seconds since the Unix epoch) under a
/// TTL on `attribute`: the attribute is a number of epoch seconds not after
/// `now` and not more than five years before it. Other types never expire.
pub fn is_expired(item: &Item, attribute: &str, now: i64) -> bool {
    let Some(AttributeValue::N(expires_at)) = item.get(attribute) else {
        return false;
    };
    let now_number = Number::from(now);
    let oldest = Number::from(now.saturating_sub(MAX_TTL_AGE_SECONDS));
    *expires_at <= now_number && *expires_at >= oldest
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(ttl: AttributeValue) -> Item {
        [("expires".to_owned(), ttl)].into()
    }

    #[test]
    fn expiry() {
        let now = 1_700_000_000;
        let number = |text: &str| AttributeValue::N(Number::parse(text).expect("valid"));
        assert!(is_expired(&item(number("1699999999.5")), "expires", now));
        assert!(is_expired(&item(number("1700000000")), "expires", now));
        assert!(!is_expired(&item(number("1700000001")), "expires", now));
        assert!(
            !is_expired(&item(number("1")), "expires", now),
            "older than five years"
        );
        assert!(!is_expired(
            &item(AttributeValue::S("1".into())),
            "expires",
            now
        ));
        assert!(!is_expired(&Item::new(), "expires", now));
    }
}
