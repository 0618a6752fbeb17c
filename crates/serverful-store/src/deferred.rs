//! DynamoDB judges a request's attribute values after some of its other members: a
//! request mixing expression and legacy parameters is refused as such even when one of
//! its values is also empty, and an invalid `ExclusiveStartKey` value loses to a faulty
//! `QueryFilter`. Values are parsed as the request is read, so their verdicts are kept
//! here instead, and the operation asks for them where DynamoDB checks them.
//!
//! While a [`Scope`] is open on a thread, an invalid value parses as `NULL` and its
//! verdict is deferred under the [`Place`] it was found in; [`check`] fails with the
//! first verdict of a place. Outside a scope (PartiQL, transactions, the engine's own
//! callers) nothing is deferred and an invalid value fails the parse, as before.

use std::cell::{Cell, RefCell};

use crate::error::{StoreError, StoreResult};

/// Where in a request a value was found; each place is checked at its own point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Place {
    /// The item, key or updates the operation is about (the default).
    Item,
    /// A legacy condition's values: `Expected`, `QueryFilter`, `ScanFilter`.
    Condition,
    /// Query's legacy `KeyConditions`' values.
    KeyCondition,
    /// `ExclusiveStartKey`.
    StartKey,
    /// `ExpressionAttributeValues`.
    Values,
}

thread_local! {
    static OPEN: Cell<bool> = const { Cell::new(false) };
    static PLACE: Cell<Place> = const { Cell::new(Place::Item) };
    static VERDICTS: RefCell<Vec<(Place, StoreError)>> = const { RefCell::new(Vec::new()) };
}

/// Defers the verdicts on values parsed on this thread until it is dropped.
pub(crate) struct Scope(());

/// Opens a scope on this thread.
pub(crate) fn begin() -> Scope {
    VERDICTS.with(|verdicts| verdicts.borrow_mut().clear());
    OPEN.with(|open| open.set(true));
    Scope(())
}

impl Scope {
    /// The first verdict no [`check`] took, if any.
    pub(crate) fn unchecked(&self) -> Option<StoreError> {
        VERDICTS.with(|verdicts| {
            verdicts
                .borrow_mut()
                .drain(..)
                .next()
                .map(|(_, error)| error)
        })
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        OPEN.with(|open| open.set(false));
        VERDICTS.with(|verdicts| verdicts.borrow_mut().clear());
    }
}

/// Marks the values parsed until it is dropped as found in `place`.
pub(crate) struct At(Place);

/// Values parsed from now until the guard drops are in `place`.
pub(crate) fn at(place: Place) -> At {
    At(PLACE.with(|current| current.replace(place)))
}

/// Like [`at`], unless an enclosing member already chose a place other than the default.
pub(crate) fn within(place: Place) -> At {
    PLACE.with(|current| {
        let previous = current.get();
        if previous == Place::Item {
            current.set(place);
        }
        At(previous)
    })
}

impl Drop for At {
    fn drop(&mut self) {
        PLACE.with(|current| current.set(self.0));
    }
}

/// Keeps `error` for later if a scope is open (then the value may stand in as `NULL`);
/// `false` if not, and the caller must fail now.
pub(crate) fn defer(error: StoreError) -> bool {
    defer_at(PLACE.with(Cell::get), error)
}

/// [`defer`], in a place of the caller's choosing.
pub(crate) fn defer_at(place: Place, error: StoreError) -> bool {
    if !OPEN.with(Cell::get) {
        return false;
    }
    VERDICTS.with(|verdicts| verdicts.borrow_mut().push((place, error)));
    true
}

/// Fails with the first deferred verdict on a value found in `place`.
pub(crate) fn check(place: Place) -> StoreResult<()> {
    VERDICTS.with(|verdicts| {
        let mut verdicts = verdicts.borrow_mut();
        match verdicts.iter().position(|(found, _)| *found == place) {
            Some(index) => Err(verdicts.remove(index).1),
            None => Ok(()),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_wait_for_their_place_and_only_inside_a_scope() {
        assert!(!defer(StoreError::validation("outside")));
        let scope = begin();
        assert!(defer(StoreError::validation("item")));
        {
            let _condition = at(Place::Condition);
            assert!(defer(StoreError::validation("condition")));
        }
        assert!(defer(StoreError::validation("second item")));
        assert!(check(Place::StartKey).is_ok());
        assert_eq!(
            check(Place::Condition).expect_err("deferred").message,
            "condition"
        );
        assert_eq!(check(Place::Item).expect_err("deferred").message, "item");
        assert_eq!(scope.unchecked().expect("one left").message, "second item");
        drop(scope);
        assert!(!defer(StoreError::validation("closed")));
    }
}
