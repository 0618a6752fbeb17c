//! Capacity units as DynamoDB reports them in `ConsumedCapacity`: reads in
//! 4 KB units (half for eventually consistent reads), writes in 1 KB units,
//! transactions at twice the price.

/// Bytes per read capacity unit.
pub const READ_UNIT_BYTES: usize = 4 * 1024;
/// Bytes per write capacity unit.
pub const WRITE_UNIT_BYTES: usize = 1024;

/// How a read was performed, which sets its price.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadKind {
    /// `ConsistentRead: false`: half a unit per 4 KB.
    Eventual,
    /// `ConsistentRead: true`: one unit per 4 KB.
    Strong,
    /// Inside `TransactGetItems`: two units per 4 KB.
    Transactional,
}

/// Read units for reading `bytes` (one item, or the sum of a Query or Scan
/// page); at least one 4 KB block is charged even for nothing found.
pub fn read_units(bytes: usize, kind: ReadKind) -> f64 {
    let blocks = bytes.div_ceil(READ_UNIT_BYTES).max(1) as f64;
    match kind {
        ReadKind::Eventual => blocks / 2.0,
        ReadKind::Strong => blocks,
        ReadKind::Transactional => blocks * 2.0,
    }
}

/// Write units for writing an item of `bytes` (for an update or a replacing
/// put, the larger of the old and new item); at least one unit.
pub fn write_units(bytes: usize, transactional: bool) -> f64 {
    let blocks = bytes.div_ceil(WRITE_UNIT_BYTES).max(1) as f64;
    if transactional {
        blocks * 2.0
    } else {
        blocks
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        assert_eq!(read_units(0, ReadKind::Eventual), 0.5);
        assert_eq!(read_units(4096, ReadKind::Strong), 1.0);
        assert_eq!(read_units(4097, ReadKind::Strong), 2.0);
        assert_eq!(read_units(5000, ReadKind::Transactional), 4.0);
        assert_eq!(write_units(1, false), 1.0);
        assert_eq!(write_units(1025, false), 2.0);
        assert_eq!(write_units(1024, true), 2.0);
    }
}
