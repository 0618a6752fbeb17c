//! Query and Scan: key conditions turned into sort key byte ranges, filters,
//! projections, `Select`, `Limit`, the 1 MB page, `ExclusiveStartKey` /
//! `LastEvaluatedKey`, backwards reads and parallel scan segments.

use std::collections::BTreeMap;
use std::ops::Bound;

use super::items::{
    check_expression_params, check_not_mixed, consumed_detail, legacy_conditions, legacy_filter,
    parse_expressions, Consumption,
};
use super::validate::{Violations, CAPACITY_VALUES, CONDITIONAL_OPERATORS};
use super::{decode_item, row_key, Gate, IndexMeta, Store, Table};
use crate::api::{QueryInput, ReadOutput, ScanInput};
use crate::backend::{SortRange, Space};
use crate::capacity::{read_units, ReadKind};
use crate::deferred::{self, Place};
use crate::error::{StoreError, StoreResult};
use crate::eval::{apply_projection, evaluate_condition, sort_key_matches};
use crate::expression::{Comparator, Condition, Projection, SortKeyCondition};
use crate::key::{encode_key_prefix, encode_key_value, KeySchema};
use crate::legacy::{self, FilterCondition};
use crate::paging::{
    check_exclusive_start_key, check_segments, last_evaluated_key, segment_of, StartKeyFor,
    MAX_PAGE_BYTES,
};
use crate::value::{item_size, Item};

/// Rows fetched from the backend per round trip.
const CHUNK: usize = 256;

/// A lower and an upper sort key bound.
type Bounds = (Bound<Vec<u8>>, Bound<Vec<u8>>);

/// The smallest byte string greater than every string starting with `prefix`,
/// or `None` when there is none (all bytes 0xFF).
fn successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut bytes = prefix.to_vec();
    while let Some(last) = bytes.pop() {
        if last != 0xFF {
            bytes.push(last + 1);
            return Some(bytes);
        }
    }
    None
}

fn after(prefix: &[u8]) -> Bound<Vec<u8>> {
    successor(prefix).map_or(Bound::Unbounded, Bound::Excluded)
}

/// The sort key byte range a key condition selects. Index sort keys carry the
/// table key after the index sort value, so ranges are built on prefixes.
/// `None` when nothing can match.
fn sort_range(condition: Option<&SortKeyCondition>) -> StoreResult<Option<Bounds>> {
    let Some(condition) = condition else {
        return Ok(Some((Bound::Unbounded, Bound::Unbounded)));
    };
    Ok(Some(match condition {
        SortKeyCondition::Compare(comparator, value) => {
            let encoded = encode_key_value(value)?;
            match comparator {
                Comparator::Equal => (Bound::Included(encoded.clone()), after(&encoded)),
                Comparator::Less => (Bound::Unbounded, Bound::Excluded(encoded)),
                Comparator::LessOrEqual => (Bound::Unbounded, after(&encoded)),
                Comparator::Greater => match successor(&encoded) {
                    Some(next) => (Bound::Included(next), Bound::Unbounded),
                    None => return Ok(None),
                },
                Comparator::GreaterOrEqual => (Bound::Included(encoded), Bound::Unbounded),
                Comparator::NotEqual => (Bound::Unbounded, Bound::Unbounded),
            }
        }
        SortKeyCondition::BeginsWith(prefix) => {
            let encoded = encode_key_prefix(prefix)?;
            (Bound::Included(encoded.clone()), after(&encoded))
        }
        SortKeyCondition::Between(low, high) => (
            Bound::Included(encode_key_value(low)?),
            after(&encode_key_value(high)?),
        ),
    }))
}

/// What a read returns per item (`Select` and projection resolved).
enum Output {
    Count,
    Items(Option<Projection>),
}

/// The shared part of Query and Scan.
struct ReadPlan<'a> {
    table: &'a Table,
    space: Space,
    /// The key of the space read: the table's or the index's.
    index_key: Option<&'a KeySchema>,
    /// The index read, if any.
    index_meta: Option<&'a IndexMeta>,
    filter: Option<Condition>,
    output: Output,
    limit: Option<usize>,
    kind: ReadKind,
    /// Local indexes fetch the table's item when the request wants attributes
    /// the index does not keep, as DynamoDB does.
    fetch_from_table: bool,
}

/// Accumulates one page.
struct Page {
    items: Vec<Item>,
    count: usize,
    scanned: usize,
    bytes: usize,
    last: LastRow,
    full: bool,
}

/// The last row a page scanned, for its `LastEvaluatedKey`.
enum LastRow {
    None,
    /// The page's last item, as stored (not projected): no copy kept.
    LastItem,
    Kept(Item),
}

impl ReadPlan<'_> {
    /// The item a stored row stands for: the index entry, or the table's item
    /// when the plan reads through a local index.
    fn item(&self, store: &Store, value: &[u8]) -> StoreResult<Option<Item>> {
        let entry = decode_item(value)?;
        if !self.fetch_from_table {
            return Ok(Some(entry));
        }
        let (partition, sort) = self.table.row_key(&entry)?;
        store.stored_item(self.table, &partition, &sort)
    }

    fn new_page(&self) -> Page {
        Page {
            items: Vec::new(),
            count: 0,
            scanned: 0,
            bytes: 0,
            last: LastRow::None,
            full: false,
        }
    }

    /// Takes one stored row into the page; marks it full at the limit or 1 MB.
    fn take(&self, page: &mut Page, item: Item) {
        page.scanned += 1;
        page.bytes += item_size(&item);
        let matches = self
            .filter
            .as_ref()
            .is_none_or(|filter| evaluate_condition(filter, &item));
        if matches {
            page.count += 1;
        }
        page.last = match &self.output {
            Output::Items(None) if matches => {
                // The item itself goes into the page, which then also answers
                // for the last row: no copy.
                page.items.push(item);
                LastRow::LastItem
            }
            Output::Items(Some(projection)) if matches => {
                page.items.push(apply_projection(projection, &item));
                LastRow::Kept(item)
            }
            _ => LastRow::Kept(item),
        };
        if self.limit.is_some_and(|limit| page.scanned >= limit) || page.bytes >= MAX_PAGE_BYTES {
            page.full = true;
        }
    }

    /// Where a read's units were consumed: on the table, or on the index read.
    fn consumption(&self, units: f64) -> Consumption {
        match self.index_meta {
            None => Consumption::table(units),
            Some(meta) => Consumption {
                table: None,
                indexes: vec![(meta.name.clone(), meta.global, units)],
            },
        }
    }

    fn finish(&self, page: Page, return_capacity: Option<&String>) -> ReadOutput {
        let last_evaluated_key = if page.full {
            match &page.last {
                LastRow::None => None,
                LastRow::LastItem => page.items.last(),
                LastRow::Kept(item) => Some(item),
            }
            .map(|item| last_evaluated_key(&self.table.key, self.index_key, item))
        } else {
            None
        };
        ReadOutput {
            items: match self.output {
                Output::Count => None,
                Output::Items(_) => Some(page.items),
            },
            count: page.count,
            scanned_count: page.scanned,
            last_evaluated_key,
            consumed_capacity: consumed_detail(
                return_capacity,
                &self.table.meta.name,
                &self.consumption(read_units(page.bytes, self.kind)),
            ),
        }
    }
}

/// Resolves `IndexName`, `Select` and projection shared by Query and Scan.
#[allow(clippy::too_many_arguments)]
fn plan<'a>(
    table: &'a Table,
    index_name: Option<&String>,
    select: Option<&String>,
    projection: Option<Projection>,
    filter: Option<Condition>,
    limit: Option<i64>,
    consistent: bool,
) -> StoreResult<ReadPlan<'a>> {
    let (space, index_key, index_meta) = match index_name {
        None => (table.space(), None, None),
        Some(name) => {
            let Some((meta, index)) = table.index(name) else {
                return Err(StoreError::validation(format!(
                    "The table does not have the specified index: {name}"
                )));
            };
            if consistent && meta.global {
                return Err(StoreError::validation(
                    "Consistent reads are not supported on global secondary indexes",
                ));
            }
            (
                Space::index(table.meta.id, name),
                Some(&index.key_schema),
                Some(meta),
            )
        }
    };
    let output = match select.map(String::as_str) {
        Some("COUNT") => {
            if projection.is_some() {
                return Err(StoreError::validation(
                    "Cannot specify the AttributesToGet when choosing to get only the Count",
                ));
            }
            Output::Count
        }
        Some("SPECIFIC_ATTRIBUTES") => {
            if projection.is_none() {
                return Err(StoreError::validation(
                    "One or more parameter values were invalid: Select type SPECIFIC_ATTRIBUTES requires either an AttributesToGet or ProjectionExpression",
                ));
            }
            Output::Items(projection)
        }
        Some("ALL_PROJECTED_ATTRIBUTES") => {
            if index_name.is_none() {
                return Err(StoreError::validation(
                    "One or more parameter values were invalid: Select type ALL_PROJECTED_ATTRIBUTES is not supported for table scans or queries",
                ));
            }
            if projection.is_some() {
                return Err(StoreError::validation(
                    "One or more parameter values were invalid: Cannot specify the ProjectionExpression when choosing to get ALL_PROJECTED_ATTRIBUTES",
                ));
            }
            Output::Items(None)
        }
        Some("ALL_ATTRIBUTES") => {
            if projection.is_some() {
                return Err(StoreError::validation(
                    "One or more parameter values were invalid: Cannot specify the ProjectionExpression when choosing to get ALL_ATTRIBUTES",
                ));
            }
            if let Some(meta) =
                index_meta.filter(|meta| meta.global && meta.projection_type != "ALL")
            {
                return Err(StoreError::validation(format!(
                    "One or more parameter values were invalid: Select type ALL_ATTRIBUTES is not supported for global secondary index {} because its projection type is not ALL",
                    meta.name
                )));
            }
            Output::Items(None)
        }
        _ => Output::Items(projection),
    };
    let fetch_from_table = index_meta.is_some_and(|meta| {
        !meta.global
            && meta.projection_type != "ALL"
            && (select.is_some_and(|select| select == "ALL_ATTRIBUTES")
                || matches!(&output, Output::Items(Some(_))))
    });
    Ok(ReadPlan {
        table,
        space,
        index_key,
        index_meta,
        filter,
        fetch_from_table,
        output,
        limit: limit.map(|limit| usize::try_from(limit).unwrap_or(usize::MAX)),
        kind: if consistent {
            ReadKind::Strong
        } else {
            ReadKind::Eventual
        },
    })
}

/// Which read operation `check_read_members` checks: they word a `Limit`
/// violation differently.
#[derive(Clone, Copy, PartialEq)]
enum ReadOperation {
    Query,
    Scan,
}

fn check_read_members(
    operation: ReadOperation,
    violations: &mut Violations,
    table_name: Option<&String>,
    index_name: Option<&String>,
    select: Option<&String>,
    limit: Option<i64>,
    capacity: Option<&String>,
) {
    violations.table_name(table_name, "tableName");
    if let Some(index) = index_name {
        violations.name_pattern(index, "indexName");
    }
    violations.one_of(
        select,
        "select",
        &[
            "SPECIFIC_ATTRIBUTES",
            "COUNT",
            "ALL_ATTRIBUTES",
            "ALL_PROJECTED_ATTRIBUTES",
        ],
    );
    // DynamoDB's Query names the member `Limit` and leaves the value out,
    // while Scan echoes it under `limit`; both are what the service answers.
    match operation {
        ReadOperation::Query => violations.at_least_unechoed(limit, "Limit", 1),
        ReadOperation::Scan => violations.at_least(limit, "limit", 1),
    }
    violations.one_of(capacity, "returnConsumedCapacity", &CAPACITY_VALUES);
}

/// Converts Query's legacy `KeyConditions` and checks what needs no key schema: each
/// comparison operator and its values, and that there are one or two.
fn legacy_key_conditions(
    conditions: &BTreeMap<String, crate::api::Condition>,
) -> StoreResult<BTreeMap<String, FilterCondition>> {
    let converted = legacy_conditions(conditions, "keyConditions")?;
    legacy::check_key_conditions(&converted)?;
    Ok(converted)
}

/// Tightens a lower bound to start after `start`.
fn raise_lower(lower: Bound<Vec<u8>>, start: Vec<u8>) -> Bound<Vec<u8>> {
    match &lower {
        Bound::Included(bound) | Bound::Excluded(bound) if *bound > start => lower,
        _ => Bound::Excluded(start),
    }
}

/// Tightens an upper bound to end before `start`.
fn lower_upper(upper: Bound<Vec<u8>>, start: Vec<u8>) -> Bound<Vec<u8>> {
    match &upper {
        Bound::Included(bound) | Bound::Excluded(bound) if *bound < start => upper,
        _ => Bound::Excluded(start),
    }
}

impl Store {
    /// `Query`
    pub fn query(&self, input: QueryInput) -> StoreResult<ReadOutput> {
        self.query_under(input, Gate::Take)
    }

    pub(crate) fn query_under(&self, input: QueryInput, gate: Gate) -> StoreResult<ReadOutput> {
        let mut violations = Violations::new();
        check_read_members(
            ReadOperation::Query,
            &mut violations,
            input.table_name.as_ref(),
            input.index_name.as_ref(),
            input.select.as_ref(),
            input.limit,
            input.return_consumed_capacity.as_ref(),
        );
        violations.attributes_to_get(input.attributes_to_get.as_ref());
        violations.legacy_conditions(input.key_conditions.as_ref(), "keyConditions");
        violations.legacy_conditions(input.query_filter.as_ref(), "queryFilter");
        violations.one_of(
            input.conditional_operator.as_ref(),
            "conditionalOperator",
            &CONDITIONAL_OPERATORS,
        );
        violations.finish()?;
        check_not_mixed(
            &[
                ("AttributesToGet", input.attributes_to_get.is_some()),
                ("QueryFilter", input.query_filter.is_some()),
                ("KeyConditions", input.key_conditions.is_some()),
                ("ConditionalOperator", input.conditional_operator.is_some()),
            ],
            &[
                (
                    "ProjectionExpression",
                    input.projection_expression.is_some(),
                ),
                ("FilterExpression", input.filter_expression.is_some()),
                (
                    "KeyConditionExpression",
                    input.key_condition_expression.is_some(),
                ),
            ],
        )?;
        // What the request says by itself is checked before the table is looked up, in
        // DynamoDB's order; only what needs the key schema waits for the table.
        let any_expression = input.key_condition_expression.is_some()
            || input.filter_expression.is_some()
            || input.projection_expression.is_some();
        check_expression_params(
            input.expression_attribute_names.as_ref(),
            input.expression_attribute_values.as_ref(),
            any_expression,
            None,
        )?;
        deferred::check(Place::Condition)?;
        let legacy_filter = legacy_filter(
            input.query_filter.as_ref(),
            input.conditional_operator.as_ref(),
            "queryFilter",
        )?;
        let attributes_to_get = input
            .attributes_to_get
            .as_ref()
            .map(|names| legacy::attributes_to_get(names))
            .transpose()?;
        deferred::check(Place::StartKey)?;
        if input.key_conditions.is_none() && input.key_condition_expression.is_none() {
            return Err(StoreError::validation(
                "Either the KeyConditions or KeyConditionExpression parameter must be specified in the request.",
            ));
        }
        let (key_shape, filter, projection) = parse_expressions(
            input.expression_attribute_names.as_ref(),
            input.expression_attribute_values.as_ref(),
            any_expression,
            None,
            |context| {
                let key = input
                    .key_condition_expression
                    .as_deref()
                    .map(|text| context.key_condition_shape(text))
                    .transpose()?;
                let filter = input
                    .filter_expression
                    .as_deref()
                    .map(|text| context.filter(text))
                    .transpose()?;
                let projection = input
                    .projection_expression
                    .as_deref()
                    .map(|text| context.projection(text))
                    .transpose()?;
                Ok((key, filter, projection))
            },
        )?;
        deferred::check(Place::KeyCondition)?;
        let key_conditions = match (&key_shape, &input.key_conditions) {
            (None, Some(conditions)) => Some(legacy_key_conditions(conditions)?),
            _ => None,
        };
        let (filter, filter_name) = match filter {
            Some(filter) => (Some(filter), "Filter Expression"),
            None => (legacy_filter, "QueryFilter"),
        };
        let projection = projection.or(attributes_to_get);
        let _gate = self.enter(gate);
        let table = self.table(input.table_name.as_deref().unwrap_or_default())?;
        let index_schema = match &input.index_name {
            Some(name) => {
                let Some((meta, index)) = table.index(name) else {
                    return Err(StoreError::validation(format!(
                        "The table does not have the specified index: {name}"
                    )));
                };
                if input.consistent_read == Some(true) && meta.global {
                    return Err(StoreError::validation(
                        "Consistent reads are not supported on global secondary indexes",
                    ));
                }
                Some(index.key_schema.clone())
            }
            None => None,
        };
        if let Some(start) = &input.exclusive_start_key {
            check_exclusive_start_key(
                &table.key,
                index_schema.as_ref(),
                start,
                StartKeyFor::Query,
            )?;
        }
        let schema = index_schema.as_ref().unwrap_or(&table.key);
        let key_condition = match (key_shape, key_conditions) {
            (Some(shape), _) => shape.restrict(schema)?,
            (None, Some(conditions)) => legacy::key_conditions(&conditions, schema)?,
            (None, None) => {
                return Err(StoreError::internal(
                    "a Query has either key condition, checked above",
                ))
            }
        };
        let key_paths = check_read_key_paths(&table, projection.as_ref(), filter.as_ref());
        if let Some(filter) = &filter {
            check_filter_avoids_keys(filter, schema, filter_name)?;
        }
        let plan = plan(
            &table,
            input.index_name.as_ref(),
            input.select.as_ref(),
            projection,
            filter,
            input.limit,
            input.consistent_read == Some(true),
        )?;
        key_paths?;
        let partition = encode_key_value(&key_condition.partition_key_value)?;
        let sort_condition = key_condition
            .sort_key
            .as_ref()
            .map(|(_, condition)| condition);
        let mut page = plan.new_page();
        let Some((mut lower, mut upper)) = sort_range(sort_condition)? else {
            return Ok(plan.finish(page, input.return_consumed_capacity.as_ref()));
        };
        let reverse = input.scan_index_forward == Some(false);
        if let Some(start) = &input.exclusive_start_key {
            let (start_partition, start_sort) =
                row_key(schema, plan.index_key.map(|_| &table.key), start)
                    .map_err(|_| StoreError::validation("The provided starting key is invalid"))?;
            let outside = || {
                StoreError::validation(
                    "The provided starting key is outside query boundaries based on provided conditions",
                )
            };
            if start_partition != partition {
                return Err(outside());
            }
            if let Some((name, condition)) = &key_condition.sort_key {
                if !start
                    .get(name)
                    .is_some_and(|value| sort_key_matches(condition, value))
                {
                    return Err(outside());
                }
            }
            if reverse {
                upper = lower_upper(upper, start_sort);
            } else {
                lower = raise_lower(lower, start_sort);
            }
        }
        loop {
            let range = SortRange {
                lower: lower.clone(),
                upper: upper.clone(),
                reverse,
            };
            let rows = self.backend.query(&plan.space, &partition, &range, CHUNK)?;
            let exhausted = rows.len() < CHUNK;
            for row in &rows {
                let Some(item) = plan.item(self, &row.value)? else {
                    continue;
                };
                // The byte range is exact; this guards the encoding's edges.
                if let Some((name, condition)) = &key_condition.sort_key {
                    if !item
                        .get(name)
                        .is_some_and(|value| sort_key_matches(condition, value))
                    {
                        continue;
                    }
                }
                plan.take(&mut page, item);
                if page.full {
                    return Ok(plan.finish(page, input.return_consumed_capacity.as_ref()));
                }
            }
            match rows.last() {
                Some(last) if !exhausted => {
                    if reverse {
                        upper = Bound::Excluded(last.sort.clone());
                    } else {
                        lower = Bound::Excluded(last.sort.clone());
                    }
                }
                _ => return Ok(plan.finish(page, input.return_consumed_capacity.as_ref())),
            }
        }
    }

    /// `Scan`, including parallel scans (`Segment`/`TotalSegments`).
    pub fn scan(&self, input: ScanInput) -> StoreResult<ReadOutput> {
        self.scan_under(input, Gate::Take)
    }

    pub(crate) fn scan_under(&self, input: ScanInput, gate: Gate) -> StoreResult<ReadOutput> {
        let mut violations = Violations::new();
        check_read_members(
            ReadOperation::Scan,
            &mut violations,
            input.table_name.as_ref(),
            input.index_name.as_ref(),
            input.select.as_ref(),
            input.limit,
            input.return_consumed_capacity.as_ref(),
        );
        violations.at_least(input.segment, "segment", 0);
        violations.at_most(input.segment, "segment", 999_999);
        violations.at_least(input.total_segments, "totalSegments", 1);
        violations.at_most(input.total_segments, "totalSegments", 1_000_000);
        violations.attributes_to_get(input.attributes_to_get.as_ref());
        violations.legacy_conditions(input.scan_filter.as_ref(), "scanFilter");
        violations.one_of(
            input.conditional_operator.as_ref(),
            "conditionalOperator",
            &CONDITIONAL_OPERATORS,
        );
        violations.finish()?;
        check_not_mixed(
            &[
                ("AttributesToGet", input.attributes_to_get.is_some()),
                ("ScanFilter", input.scan_filter.is_some()),
                ("ConditionalOperator", input.conditional_operator.is_some()),
            ],
            &[
                (
                    "ProjectionExpression",
                    input.projection_expression.is_some(),
                ),
                ("FilterExpression", input.filter_expression.is_some()),
            ],
        )?;
        let any_expression =
            input.filter_expression.is_some() || input.projection_expression.is_some();
        check_expression_params(
            input.expression_attribute_names.as_ref(),
            input.expression_attribute_values.as_ref(),
            any_expression,
            None,
        )?;
        let attributes_to_get = input
            .attributes_to_get
            .as_ref()
            .map(|names| legacy::attributes_to_get(names))
            .transpose()?;
        deferred::check(Place::Condition)?;
        let legacy_filter = legacy_filter(
            input.scan_filter.as_ref(),
            input.conditional_operator.as_ref(),
            "scanFilter",
        )?;
        deferred::check(Place::StartKey)?;
        let segment = input
            .segment
            .map(|segment| u32::try_from(segment).unwrap_or(0));
        let total_segments = input
            .total_segments
            .map(|total| u32::try_from(total).unwrap_or(1));
        check_segments(segment, total_segments)?;
        let (filter, projection) = parse_expressions(
            input.expression_attribute_names.as_ref(),
            input.expression_attribute_values.as_ref(),
            any_expression,
            None,
            |context| {
                let filter = input
                    .filter_expression
                    .as_deref()
                    .map(|text| context.filter(text))
                    .transpose()?;
                let projection = input
                    .projection_expression
                    .as_deref()
                    .map(|text| context.projection(text))
                    .transpose()?;
                Ok((filter, projection))
            },
        )?;
        let filter = filter.or(legacy_filter);
        let projection = projection.or(attributes_to_get);
        let _gate = self.enter(gate);
        let table = self.table(input.table_name.as_deref().unwrap_or_default())?;
        // Checked here, reported after the index and the start key as DynamoDB does.
        let key_paths = check_read_key_paths(&table, projection.as_ref(), filter.as_ref());
        let plan = plan(
            &table,
            input.index_name.as_ref(),
            input.select.as_ref(),
            projection,
            filter,
            input.limit,
            input.consistent_read == Some(true),
        )?;
        let mut position: Option<(Vec<u8>, Vec<u8>)> = None;
        if let Some(start) = &input.exclusive_start_key {
            check_exclusive_start_key(&table.key, plan.index_key, start, StartKeyFor::Scan)?;
            let schema = plan.index_key.unwrap_or(&table.key);
            position = Some(
                row_key(schema, plan.index_key.map(|_| &table.key), start)
                    .map_err(|_| StoreError::validation("The provided starting key is invalid"))?,
            );
            if let (Some(segment), Some(total)) = (segment, total_segments) {
                if segment_of(&table.key, start, total)? != segment {
                    return Err(StoreError::validation(format!(
                        "The provided starting key is invalid: Invalid ExclusiveStartKey. Please use ExclusiveStartKey with correct Segment. TotalSegments: {total} Segment: {segment}"
                    )));
                }
            }
        }
        key_paths?;
        let mut page = plan.new_page();
        loop {
            let rows = self.backend.scan(
                &plan.space,
                position.as_ref().map(|(p, s)| (p.as_slice(), s.as_slice())),
                CHUNK,
            )?;
            let exhausted = rows.len() < CHUNK;
            for row in &rows {
                let Some(item) = plan.item(self, &row.value)? else {
                    continue;
                };
                if let (Some(segment), Some(total)) = (segment, total_segments) {
                    if segment_of(&table.key, &item, total)? != segment {
                        continue;
                    }
                }
                plan.take(&mut page, item);
                if page.full {
                    return Ok(plan.finish(page, input.return_consumed_capacity.as_ref()));
                }
            }
            match rows.last() {
                Some(last) if !exhausted => {
                    position = Some((last.partition.clone(), last.sort.clone()));
                }
                _ => return Ok(plan.finish(page, input.return_consumed_capacity.as_ref())),
            }
        }
    }
}

/// A read's projection and filter may not reach into key attributes.
fn check_read_key_paths(
    table: &Table,
    projection: Option<&Projection>,
    filter: Option<&Condition>,
) -> StoreResult<()> {
    if let Some(projection) = projection {
        table.check_key_paths(&projection.paths)?;
    }
    if let Some(filter) = filter {
        table.check_key_paths(filter.paths())?;
    }
    Ok(())
}

/// Query filters may not name the queried key's attributes, as DynamoDB
/// requires (the key condition is the place for them).
fn check_filter_avoids_keys(
    filter: &Condition,
    schema: &KeySchema,
    parameter: &str,
) -> StoreResult<()> {
    let paths = filter.paths();
    match paths
        .into_iter()
        .map(|path| path.top_level_name())
        .find(|name| schema.is_key_attribute(name))
    {
        Some(name) => Err(StoreError::validation(format!(
            "{parameter} can only contain non-primary key attributes: Primary key attribute: {name}"
        ))),
        None => Ok(()),
    }
}
