//! The control plane: CreateTable, DescribeTable, DeleteTable, ListTables,
//! UpdateTable (GSIs, streams, billing), TTL settings and tags. Tables are
//! ACTIVE as soon as they are created; new GSIs are backfilled before
//! UpdateTable returns.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, PoisonError};

use super::validate::Violations;
use super::{row_key, IndexMeta, Store, Table, TableMeta};
use crate::api::{
    AttributeDefinition, BillingModeSummary, CreateTableInput, CreateTableOutput,
    DescribeTableOutput, DescribeTimeToLiveOutput, EmptyOutput, GlobalSecondaryIndex,
    IndexDescription, KeySchemaElement, ListTablesInput, ListTablesOutput, ListTagsOfResourceInput,
    ListTagsOfResourceOutput, Projection, ProvisionedThroughput, ProvisionedThroughputDescription,
    StreamSpecification, TableDescription, TableNameInput, Tag, TagResourceInput,
    TimeToLiveDescription, TimeToLiveSpecification, UntagResourceInput, UpdateTableInput,
    UpdateTimeToLiveInput, UpdateTimeToLiveOutput,
};
use crate::backend::{Space, Write};
use crate::error::{ErrorKind, StoreError, StoreResult};

/// The most GSIs (and LSIs) a table may have.
const MAX_GLOBAL_INDEXES: usize = 20;
const MAX_LOCAL_INDEXES: usize = 5;

/// Spaces with at least this many rows have their counts cached.
const CACHED_COUNT_ROWS: u64 = 10_000;
/// How long cached counts are used.
const COUNT_CACHE_SECONDS: f64 = 60.0;

/// The ARN of a table.
pub fn table_arn(region: &str, account_id: &str, table: &str) -> String {
    format!("arn:aws:dynamodb:{region}:{account_id}:table/{table}")
}

fn invalid(message: impl AsRef<str>) -> StoreError {
    StoreError::validation(format!(
        "One or more parameter values were invalid: {}",
        message.as_ref()
    ))
}

fn table_not_found(name: &str) -> StoreError {
    StoreError::new(
        ErrorKind::ResourceNotFound,
        format!("Requested resource not found: Table: {name} not found"),
    )
}

/// The partition and sort key names of a KeySchema list, checked.
fn key_names(
    schema: &[KeySchemaElement],
    defined: &BTreeMap<String, String>,
) -> StoreResult<(String, Option<String>)> {
    let name_of = |element: &KeySchemaElement| element.attribute_name.clone().unwrap_or_default();
    let first = schema
        .first()
        .ok_or_else(|| invalid("KeySchema must have at least one element"))?;
    if first.key_type.as_deref() != Some("HASH") {
        return Err(StoreError::validation(
            "Invalid KeySchema: The first KeySchemaElement is not a HASH key type",
        ));
    }
    let sort = match schema.get(1) {
        None => None,
        Some(second) => {
            if second.key_type.as_deref() != Some("RANGE") {
                return Err(StoreError::validation(
                    "Invalid KeySchema: The second KeySchemaElement is not a RANGE key type",
                ));
            }
            if second.attribute_name == first.attribute_name {
                return Err(invalid(
                    "Both the Hash Key and the Range Key element in the KeySchema have the same name",
                ));
            }
            Some(name_of(second))
        }
    };
    let partition = name_of(first);
    let missing: Vec<&str> = std::iter::once(partition.as_str())
        .chain(sort.as_deref())
        .filter(|name| !defined.contains_key(*name))
        .collect();
    if !missing.is_empty() {
        return Err(invalid(format!(
            "Some index key attributes are not defined in AttributeDefinitions. Keys: [{}], AttributeDefinitions: [{}]",
            missing.join(", "),
            defined.keys().cloned().collect::<Vec<_>>().join(", ")
        )));
    }
    Ok((partition, sort))
}

/// Whether `arn` has the shape of a DynamoDB table ARN,
/// `arn:<partition>:dynamodb:<region>:<12-digit account>:table/<name>`.
fn is_foreign_table_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [scheme, partition, service, region, account, resource] = parts.as_slice() else {
        return false;
    };
    *scheme == "arn"
        && partition.starts_with("aws")
        && *service == "dynamodb"
        && !region.is_empty()
        && account.len() == 12
        && account.bytes().all(|byte| byte.is_ascii_digit())
        && resource
            .strip_prefix("table/")
            .is_some_and(|name| !name.is_empty())
}

/// A key schema as DynamoDB's Java model prints it in a constraint message,
/// `KeySchemaElement(attributeName=pk, keyType=HASH), ...`.
fn render_key_schema(schema: &[KeySchemaElement]) -> String {
    schema
        .iter()
        .map(|element| {
            format!(
                "KeySchemaElement(attributeName={}, keyType={})",
                element.attribute_name.as_deref().unwrap_or("null"),
                element.key_type.as_deref().unwrap_or("null")
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn check_key_schema_shape(
    violations: &mut Violations,
    schema: Option<&Vec<KeySchemaElement>>,
    field: &str,
) {
    violations.required(schema, field);
    if let Some(schema) = schema {
        violations.length_between(
            Some(schema.len()),
            &format!("'[{}]'", render_key_schema(schema)),
            field,
            1,
            2,
        );
        for (position, element) in schema.iter().enumerate() {
            let member = format!("{field}.{}.member", position + 1);
            violations.required(
                element.attribute_name.as_ref(),
                &format!("{member}.attributeName"),
            );
            violations.required(element.key_type.as_ref(), &format!("{member}.keyType"));
            violations.one_of(
                element.key_type.as_ref(),
                &format!("{member}.keyType"),
                &["HASH", "RANGE"],
            );
        }
    }
}

fn index_projection(
    projection: Option<&Projection>,
    index: &str,
) -> StoreResult<(String, Vec<String>)> {
    let projection = projection.cloned().unwrap_or_default();
    let kind = projection
        .projection_type
        .clone()
        .unwrap_or_else(|| "ALL".to_owned());
    if !matches!(kind.as_str(), "ALL" | "KEYS_ONLY" | "INCLUDE") {
        return Err(StoreError::validation(format!(
            "1 validation error detected: Value '{kind}' at 'projection.projectionType' failed to satisfy constraint: Member must satisfy enum value set: [ALL, INCLUDE, KEYS_ONLY]"
        )));
    }
    let non_key = projection.non_key_attributes.unwrap_or_default();
    if kind != "INCLUDE" && !non_key.is_empty() {
        return Err(invalid(format!(
            "ProjectionType is {kind}, but NonKeyAttributes is specified"
        )));
    }
    if kind == "INCLUDE" && non_key.is_empty() {
        return Err(invalid(format!(
            "NonKeyAttributes must not be empty when ProjectionType is INCLUDE for index: {index}"
        )));
    }
    Ok((kind, non_key))
}

fn throughput(
    billing_mode: &str,
    throughput: Option<&ProvisionedThroughput>,
    for_index: bool,
) -> StoreResult<(i64, i64)> {
    match (billing_mode, throughput) {
        ("PAY_PER_REQUEST", Some(_)) if !for_index => Err(invalid(
            "Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST",
        )),
        ("PAY_PER_REQUEST", _) => Ok((0, 0)),
        (_, None) if for_index => Err(invalid(
            "ProvisionedThroughput must be specified for index when BillingMode is PROVISIONED",
        )),
        (_, None) => Err(StoreError::validation(
            "No provisioned throughput specified for the table",
        )),
        (_, Some(throughput)) => {
            let mut violations = Violations::new();
            violations.required(
                throughput.read_capacity_units.as_ref(),
                "provisionedThroughput.readCapacityUnits",
            );
            violations.required(
                throughput.write_capacity_units.as_ref(),
                "provisionedThroughput.writeCapacityUnits",
            );
            violations.at_least(
                throughput.read_capacity_units,
                "provisionedThroughput.readCapacityUnits",
                1,
            );
            violations.at_least(
                throughput.write_capacity_units,
                "provisionedThroughput.writeCapacityUnits",
                1,
            );
            violations.finish()?;
            Ok((
                throughput.read_capacity_units.unwrap_or(1),
                throughput.write_capacity_units.unwrap_or(1),
            ))
        }
    }
}

fn stream_view_type(spec: &StreamSpecification) -> StoreResult<Option<String>> {
    match (spec.stream_enabled, &spec.stream_view_type) {
        (Some(true), Some(view))
            if matches!(
                view.as_str(),
                "KEYS_ONLY" | "NEW_IMAGE" | "OLD_IMAGE" | "NEW_AND_OLD_IMAGES"
            ) =>
        {
            Ok(Some(view.clone()))
        }
        (Some(true), Some(view)) => Err(StoreError::validation(format!(
            "1 validation error detected: Value '{view}' at 'streamSpecification.streamViewType' failed to satisfy constraint: Member must satisfy enum value set: [NEW_IMAGE, OLD_IMAGE, NEW_AND_OLD_IMAGES, KEYS_ONLY]"
        ))),
        (Some(true), None) => Err(invalid(
            "You must specify a StreamViewType when enabling a stream",
        )),
        (Some(false), Some(_)) => Err(invalid(
            "You cannot specify a StreamViewType when disabling a stream",
        )),
        (None, _) => Err(StoreError::validation(
            "1 validation error detected: Value null at 'streamSpecification.streamEnabled' failed to satisfy constraint: Member must not be null",
        )),
        (Some(false), None) => Ok(None),
    }
}

fn definitions(definitions: &[AttributeDefinition]) -> StoreResult<BTreeMap<String, String>> {
    let mut defined = BTreeMap::new();
    for definition in definitions {
        let name = definition.attribute_name.clone().unwrap_or_default();
        let kind = definition.attribute_type.clone().unwrap_or_default();
        if defined.insert(name.clone(), kind).is_some() {
            return Err(invalid(format!(
                "Duplicate AttributeName in AttributeDefinitions: {name}"
            )));
        }
    }
    Ok(defined)
}

fn check_definitions_shape(violations: &mut Violations, list: Option<&Vec<AttributeDefinition>>) {
    violations.required(list, "attributeDefinitions");
    for (position, definition) in list.into_iter().flatten().enumerate() {
        let member = format!("attributeDefinitions.{}.member", position + 1);
        violations.required(
            definition.attribute_name.as_ref(),
            &format!("{member}.attributeName"),
        );
        violations.required(
            definition.attribute_type.as_ref(),
            &format!("{member}.attributeType"),
        );
        violations.one_of(
            definition.attribute_type.as_ref(),
            &format!("{member}.attributeType"),
            &["B", "N", "S"],
        );
    }
}

impl Store {
    /// `CreateTable`
    pub fn create_table(&self, input: CreateTableInput) -> StoreResult<CreateTableOutput> {
        // CreateTable checks for its table name before any constraint, with a
        // message of its own (the data-plane operations say `Value null`).
        if input.table_name.is_none() {
            return Err(StoreError::validation(
                "The parameter 'TableName' is required but was not present in the request",
            ));
        }
        let mut violations = Violations::new();
        check_definitions_shape(&mut violations, input.attribute_definitions.as_ref());
        violations.table_name(input.table_name.as_ref(), "tableName");
        check_key_schema_shape(&mut violations, input.key_schema.as_ref(), "keySchema");
        violations.one_of(
            input.billing_mode.as_ref(),
            "billingMode",
            &["PROVISIONED", "PAY_PER_REQUEST"],
        );
        violations.finish()?;
        let name = input.table_name.clone().unwrap_or_default();
        let defined = definitions(input.attribute_definitions.as_deref().unwrap_or_default())?;
        // For the table's own key DynamoDB reports one attribute used as both
        // HASH and RANGE as an undefined key attribute (an index gets the
        // "same name" message from `key_names`).
        if let [hash, range] = input.key_schema.as_deref().unwrap_or_default() {
            if hash.key_type.as_deref() == Some("HASH")
                && range.key_type.as_deref() == Some("RANGE")
                && hash.attribute_name == range.attribute_name
            {
                return Err(StoreError::validation(
                    "Invalid KeySchema: Some index key attribute have no definition",
                ));
            }
        }
        let (partition_key, sort_key) =
            key_names(input.key_schema.as_deref().unwrap_or_default(), &defined)?;
        let billing_mode = input
            .billing_mode
            .clone()
            .unwrap_or_else(|| "PROVISIONED".to_owned());
        let (read_capacity, write_capacity) =
            throughput(&billing_mode, input.provisioned_throughput.as_ref(), false)?;
        let mut indexes = Vec::new();
        let mut used: BTreeSet<String> = std::iter::once(partition_key.clone())
            .chain(sort_key.clone())
            .collect();
        let local = input.local_secondary_indexes.as_deref().unwrap_or_default();
        if input.local_secondary_indexes.is_some() && local.is_empty() {
            return Err(invalid("List of LocalSecondaryIndexes is empty"));
        }
        if local.len() > MAX_LOCAL_INDEXES {
            return Err(invalid(
                "Number of LocalSecondaryIndexes exceeds per-table limit of 5",
            ));
        }
        for lsi in local {
            let mut violations = Violations::new();
            violations.table_name(
                lsi.index_name.as_ref(),
                "localSecondaryIndexes.member.indexName",
            );
            check_key_schema_shape(
                &mut violations,
                lsi.key_schema.as_ref(),
                "localSecondaryIndexes.member.keySchema",
            );
            violations.required(
                lsi.projection.as_ref(),
                "localSecondaryIndexes.member.projection",
            );
            violations.finish()?;
            let index_name = lsi.index_name.clone().unwrap_or_default();
            let (index_partition, index_sort) =
                key_names(lsi.key_schema.as_deref().unwrap_or_default(), &defined)?;
            if sort_key.is_none() {
                return Err(invalid(
                    "Table KeySchema does not have a range key, which is required when specifying a LocalSecondaryIndex",
                ));
            }
            if index_partition != partition_key {
                return Err(invalid(format!(
                    "Index KeySchema does not have the same leading hash key as table KeySchema for index: {index_name}. index hash key: {index_partition}, table hash key: {partition_key}"
                )));
            }
            if index_sort.is_none() {
                return Err(invalid(format!(
                    "Index KeySchema does not have a range key for index: {index_name}"
                )));
            }
            let (projection_type, non_key_attributes) =
                index_projection(lsi.projection.as_ref(), &index_name)?;
            used.extend(index_sort.clone());
            indexes.push(IndexMeta {
                name: index_name,
                partition_key: index_partition,
                sort_key: index_sort,
                projection_type,
                non_key_attributes,
                global: false,
                read_capacity: 0,
                write_capacity: 0,
            });
        }
        let global = input
            .global_secondary_indexes
            .as_deref()
            .unwrap_or_default();
        if input.global_secondary_indexes.is_some() && global.is_empty() {
            return Err(invalid("List of GlobalSecondaryIndexes is empty"));
        }
        if global.len() > MAX_GLOBAL_INDEXES {
            return Err(invalid(
                "GlobalSecondaryIndex count exceeds the per-table limit of 20",
            ));
        }
        for gsi in global {
            let index = global_index(gsi, &defined, &billing_mode)?;
            used.insert(index.partition_key.clone());
            used.extend(index.sort_key.clone());
            indexes.push(index);
        }
        let mut names = BTreeSet::new();
        for index in &indexes {
            if !names.insert(index.name.clone()) {
                return Err(invalid(format!("Duplicate index name: {}", index.name)));
            }
        }
        if defined.len() != used.len() || !defined.keys().all(|name| used.contains(name)) {
            return Err(invalid(
                "Number of attributes in KeySchema does not exactly match number of attributes defined in AttributeDefinitions",
            ));
        }
        let stream_view_type = input
            .stream_specification
            .as_ref()
            .map(stream_view_type)
            .transpose()?
            .flatten();
        let tags = tag_pairs(input.tags.as_deref().unwrap_or_default())?;
        let _gate = self.write_gate()?;
        if self
            .tables
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .contains_key(&name)
        {
            return Err(StoreError::new(
                ErrorKind::ResourceInUse,
                format!("Table already exists: {name}"),
            ));
        }
        let now = self.now();
        let meta = TableMeta {
            id: self.next_table_id(),
            name: name.clone(),
            attribute_definitions: defined.into_iter().collect(),
            partition_key,
            sort_key,
            indexes,
            billing_mode,
            read_capacity,
            write_capacity,
            stream_label: stream_view_type.as_ref().map(|_| stream_label(now)),
            last_stream_view_type: stream_view_type.clone(),
            stream_view_type,
            ttl_attribute: None,
            tags,
            created: now,
            deletion_protection: input.deletion_protection_enabled.unwrap_or(false),
        };
        let table = self.save_table(meta)?;
        Ok(CreateTableOutput {
            table_description: self.describe(&table, "ACTIVE", false)?,
        })
    }

    fn next_table_id(&self) -> u64 {
        // Ids only need to be unique; the clock in microseconds plus the
        // largest id in use keeps them so across restarts.
        let largest = self
            .tables
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .map(|table| table.meta.id)
            .max()
            .unwrap_or(0);
        let clock = (self.now() * 1_000_000.0) as u64;
        clock.max(largest + 1)
    }

    fn save_table(&self, meta: TableMeta) -> StoreResult<Arc<Table>> {
        let table = Arc::new(Table::new(meta)?);
        let metadata = serde_json::to_vec(&table.meta).expect("table metadata serializes");
        self.backend.write(vec![Write::PutTable {
            name: table.meta.name.clone(),
            metadata: metadata.clone(),
        }])?;
        self.note_catalog_entry(&table.meta.name, Some(metadata));
        self.tables
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(table.meta.name.clone(), table.clone());
        Ok(table)
    }

    fn describe(
        &self,
        table: &Table,
        status: &str,
        skip_counts: bool,
    ) -> StoreResult<TableDescription> {
        let meta = &table.meta;
        let arn = table_arn(&self.config.region, &self.config.account_id, &meta.name);
        let key_schema = |partition: &str, sort: Option<&String>| {
            std::iter::once(KeySchemaElement {
                attribute_name: Some(partition.to_owned()),
                key_type: Some("HASH".to_owned()),
            })
            .chain(sort.map(|sort| KeySchemaElement {
                attribute_name: Some(sort.clone()),
                key_type: Some("RANGE".to_owned()),
            }))
            .collect::<Vec<_>>()
        };
        let counts = |space: &Space| -> StoreResult<(u64, u64)> {
            if skip_counts {
                Ok((0, 0))
            } else {
                self.space_counts(space)
            }
        };
        let provisioned = |read: i64, write: i64| ProvisionedThroughputDescription {
            number_of_decreases_today: 0,
            read_capacity_units: read,
            write_capacity_units: write,
        };
        let mut globals = Vec::new();
        let mut locals = Vec::new();
        for index in &meta.indexes {
            let (item_count, index_size_bytes) = counts(&Space::index(meta.id, &index.name))?;
            let description = IndexDescription {
                index_name: index.name.clone(),
                key_schema: key_schema(&index.partition_key, index.sort_key.as_ref()),
                projection: Projection {
                    projection_type: Some(index.projection_type.clone()),
                    non_key_attributes: (index.projection_type == "INCLUDE")
                        .then(|| index.non_key_attributes.clone()),
                },
                index_status: index.global.then(|| "ACTIVE".to_owned()),
                provisioned_throughput: index
                    .global
                    .then(|| provisioned(index.read_capacity, index.write_capacity)),
                index_size_bytes,
                item_count,
                index_arn: format!("{arn}/index/{}", index.name),
            };
            if index.global {
                globals.push(description);
            } else {
                locals.push(description);
            }
        }
        let (item_count, table_size_bytes) = counts(&table.space())?;
        Ok(TableDescription {
            attribute_definitions: meta
                .attribute_definitions
                .iter()
                .map(|(name, kind)| AttributeDefinition {
                    attribute_name: Some(name.clone()),
                    attribute_type: Some(kind.clone()),
                })
                .collect(),
            table_name: meta.name.clone(),
            key_schema: key_schema(&meta.partition_key, meta.sort_key.as_ref()),
            table_status: status.to_owned(),
            creation_date_time: (meta.created * 1000.0).round() / 1000.0,
            provisioned_throughput: provisioned(meta.read_capacity, meta.write_capacity),
            table_size_bytes,
            item_count,
            table_id: {
                let hex = format!("{:032x}", meta.id);
                format!(
                    "{}-{}-{}-{}-{}",
                    &hex[..8],
                    &hex[8..12],
                    &hex[12..16],
                    &hex[16..20],
                    &hex[20..]
                )
            },
            billing_mode_summary: (meta.billing_mode == "PAY_PER_REQUEST").then(|| {
                BillingModeSummary {
                    billing_mode: meta.billing_mode.clone(),
                    last_update_to_pay_per_request_date_time: (meta.created * 1000.0).round()
                        / 1000.0,
                }
            }),
            local_secondary_indexes: (!locals.is_empty()).then_some(locals),
            global_secondary_indexes: (!globals.is_empty()).then_some(globals),
            stream_specification: meta
                .stream_view_type
                .as_ref()
                .map(|view| StreamSpecification {
                    stream_enabled: Some(true),
                    stream_view_type: Some(view.clone()),
                }),
            latest_stream_arn: meta
                .stream_label
                .as_ref()
                .map(|label| format!("{arn}/stream/{label}")),
            latest_stream_label: meta.stream_label.clone(),
            table_arn: arn,
            deletion_protection_enabled: meta.deletion_protection,
        })
    }

    /// Item count and size of a space. Counting reads the whole space, so a
    /// large one's counts are reused for a minute (DynamoDB itself refreshes
    /// them only every six hours); small ones are always counted afresh.
    fn space_counts(&self, space: &Space) -> StoreResult<(u64, u64)> {
        let now = self.now();
        if let Some((at, counts)) = super::lock(&self.counts).get(space) {
            if now - at < COUNT_CACHE_SECONDS {
                return Ok(*counts);
            }
        }
        let counts = self.backend.count(space)?;
        let mut cache = super::lock(&self.counts);
        if counts.0 >= CACHED_COUNT_ROWS {
            cache.insert(space.clone(), (now, counts));
        } else {
            cache.remove(space);
        }
        Ok(counts)
    }

    fn named_table(&self, input: &TableNameInput) -> StoreResult<Arc<Table>> {
        let mut violations = Violations::new();
        violations.table_name(input.table_name.as_ref(), "tableName");
        violations.finish()?;
        let name = input.table_name.as_deref().unwrap_or_default();
        self.table(name).map_err(|_| table_not_found(name))
    }

    /// `DescribeTable`
    pub fn describe_table(&self, input: TableNameInput) -> StoreResult<DescribeTableOutput> {
        let table = self.named_table(&input)?;
        Ok(DescribeTableOutput {
            table: self.describe(&table, "ACTIVE", false)?,
        })
    }

    /// `DeleteTable`
    pub fn delete_table(&self, input: TableNameInput) -> StoreResult<CreateTableOutput> {
        let _gate = self.write_gate()?;
        let table = self.named_table(&input)?;
        if table.meta.deletion_protection {
            return Err(invalid(
                "Resource cannot be deleted as it is currently protected against deletion. Disable deletion protection first.",
            ));
        }
        let description = self.describe(&table, "DELETING", false)?;
        self.backend.write(vec![
            Write::DeleteTable {
                name: table.meta.name.clone(),
            },
            Write::DropSpace {
                table_id: table.meta.id,
                index: None,
            },
        ])?;
        self.tables
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&table.meta.name);
        self.note_catalog_entry(&table.meta.name, None);
        Ok(CreateTableOutput {
            table_description: description,
        })
    }

    /// `ListTables`, in name order, paginated.
    pub fn list_tables(&self, input: ListTablesInput) -> StoreResult<ListTablesOutput> {
        self.list_tables_where(input, &|_| true)
    }

    /// `ListTables` over the tables `visible` keeps: pages, limits and
    /// `LastEvaluatedTableName` count only those, so a listing names no other table.
    pub fn list_tables_where(
        &self,
        input: ListTablesInput,
        visible: &dyn Fn(&str) -> bool,
    ) -> StoreResult<ListTablesOutput> {
        let mut violations = Violations::new();
        if let Some(start) = &input.exclusive_start_table_name {
            violations.name_pattern(start, "exclusiveStartTableName");
        }
        violations.at_least(input.limit, "limit", 1);
        violations.at_most(input.limit, "limit", 100);
        violations.finish()?;
        let limit = usize::try_from(input.limit.unwrap_or(100)).unwrap_or(100);
        let tables = self.tables.read().unwrap_or_else(PoisonError::into_inner);
        let names: Vec<String> = tables
            .keys()
            .filter(|name| visible(name))
            .filter(|name| {
                input
                    .exclusive_start_table_name
                    .as_ref()
                    .is_none_or(|start| *name > start)
            })
            .take(limit + 1)
            .cloned()
            .collect();
        let more = names.len() > limit;
        let table_names: Vec<String> = names.into_iter().take(limit).collect();
        Ok(ListTablesOutput {
            last_evaluated_table_name: if more {
                table_names.last().cloned()
            } else {
                None
            },
            table_names,
        })
    }

    /// `UpdateTable`: billing mode and throughput, GSI create and delete (new
    /// indexes are backfilled before it returns), stream specification,
    /// deletion protection.
    pub fn update_table(&self, input: UpdateTableInput) -> StoreResult<CreateTableOutput> {
        // What the request says by itself is checked before the table is looked up.
        let mut violations = Violations::new();
        violations.table_name(input.table_name.as_ref(), "tableName");
        violations.one_of(
            input.billing_mode.as_ref(),
            "billingMode",
            &["PROVISIONED", "PAY_PER_REQUEST"],
        );
        violations.finish()?;
        let mut updated_indexes = std::collections::BTreeSet::new();
        for update in input.global_secondary_index_updates.iter().flatten() {
            let name = update
                .create
                .as_ref()
                .and_then(|create| create.index_name.clone())
                .or_else(|| {
                    update
                        .delete
                        .as_ref()
                        .and_then(|delete| delete.index_name.clone())
                })
                .or_else(|| {
                    update
                        .update
                        .as_ref()
                        .and_then(|update| update["IndexName"].as_str().map(str::to_owned))
                });
            if let Some(name) = name {
                if !updated_indexes.insert(name.clone()) {
                    return Err(invalid(format!(
                        "Only one global secondary index update per index is allowed simultaneously. Index: {name}"
                    )));
                }
            }
        }
        let _gate = self.write_gate()?;
        let table = self.named_table(&TableNameInput {
            table_name: input.table_name.clone(),
        })?;
        let mut meta = table.meta.clone();
        let mut changed = false;
        if let Some(mode) = &input.billing_mode {
            let mut violations = Violations::new();
            violations.one_of(
                Some(mode),
                "billingMode",
                &["PROVISIONED", "PAY_PER_REQUEST"],
            );
            violations.finish()?;
            meta.billing_mode = mode.clone();
            changed = true;
        }
        if input.provisioned_throughput.is_some() || input.billing_mode.is_some() {
            let (read, write) = if meta.billing_mode == "PAY_PER_REQUEST"
                && input.provisioned_throughput.is_none()
            {
                (0, 0)
            } else {
                throughput(
                    &meta.billing_mode,
                    input.provisioned_throughput.as_ref(),
                    false,
                )?
            };
            // Provisioned throughput that would stay the same is an error in
            // DynamoDB, not a no-op.
            if table.meta.billing_mode == "PROVISIONED"
                && meta.billing_mode == "PROVISIONED"
                && input.provisioned_throughput.is_some()
                && (read, write) == (table.meta.read_capacity, table.meta.write_capacity)
            {
                return Err(StoreError::validation(format!(
                    "The provisioned throughput for the table will not change. The requested value equals the current value. Current ReadCapacityUnits provisioned for the table: {}. Requested ReadCapacityUnits: {read}. Current WriteCapacityUnits provisioned for the table: {}. Requested WriteCapacityUnits: {write}. Refer to the Amazon DynamoDB Developer Guide for current limits and how to request higher limits.",
                    table.meta.read_capacity, table.meta.write_capacity
                )));
            }
            meta.read_capacity = read;
            meta.write_capacity = write;
            changed = true;
        }
        if let Some(protection) = input.deletion_protection_enabled {
            meta.deletion_protection = protection;
            changed = true;
        }
        if let Some(spec) = &input.stream_specification {
            let view = stream_view_type(spec)?;
            match (&meta.stream_view_type, &view) {
                (Some(_), Some(_)) => {
                    return Err(invalid(format!(
                        "Table already has an enabled stream: {}",
                        table_arn(&self.config.region, &self.config.account_id, &meta.name)
                    )))
                }
                (None, None) => {
                    return Err(invalid("Table already has no stream enabled"));
                }
                (None, Some(_)) => meta.stream_label = Some(stream_label(self.now())),
                (Some(_), None) => {}
            }
            if view.is_some() {
                meta.last_stream_view_type = view.clone();
            }
            meta.stream_view_type = view;
            changed = true;
        }
        let mut new_indexes = Vec::new();
        let mut dropped = Vec::new();
        if let Some(updates) = &input.global_secondary_index_updates {
            let mut defined: BTreeMap<String, String> =
                meta.attribute_definitions.iter().cloned().collect();
            if let Some(extra) = &input.attribute_definitions {
                for (name, kind) in definitions(extra)? {
                    match defined.get(&name) {
                        Some(existing) if *existing != kind => {
                            return Err(invalid(format!(
                                "Cannot change the type of an existing attribute: {name}"
                            )))
                        }
                        _ => {
                            defined.insert(name, kind);
                        }
                    }
                }
            }
            for update in updates {
                let actions = usize::from(update.create.is_some())
                    + usize::from(update.delete.is_some())
                    + usize::from(update.update.is_some());
                if actions != 1 {
                    return Err(invalid(
                        "One of GlobalSecondaryIndexUpdate.Update, GlobalSecondaryIndexUpdate.Create, GlobalSecondaryIndexUpdate.Delete must not be null",
                    ));
                }
                if let Some(create) = &update.create {
                    let index = global_index(create, &defined, &meta.billing_mode)?;
                    if meta
                        .indexes
                        .iter()
                        .any(|existing| existing.name == index.name)
                    {
                        return Err(invalid(format!(
                            "Attempting to create an index which already exists: {}",
                            index.name
                        )));
                    }
                    if meta.indexes.iter().filter(|index| index.global).count()
                        >= MAX_GLOBAL_INDEXES
                    {
                        return Err(invalid(
                            "GlobalSecondaryIndex count exceeds the per-table limit of 20",
                        ));
                    }
                    new_indexes.push(index.name.clone());
                    meta.indexes.push(index);
                }
                if let Some(delete) = &update.delete {
                    let name = delete.index_name.clone().unwrap_or_default();
                    let Some(position) = meta
                        .indexes
                        .iter()
                        .position(|index| index.global && index.name == name)
                    else {
                        return Err(StoreError::new(
                            ErrorKind::ResourceNotFound,
                            format!("Requested resource not found: Index: {name} not found"),
                        ));
                    };
                    meta.indexes.remove(position);
                    dropped.push(name);
                }
                if let Some(update) = &update.update {
                    let name = update
                        .get("IndexName")
                        .and_then(|name| name.as_str())
                        .unwrap_or_default();
                    if !meta
                        .indexes
                        .iter()
                        .any(|index| index.global && index.name == name)
                    {
                        return Err(StoreError::new(
                            ErrorKind::ResourceNotFound,
                            format!("Requested resource not found: Index: {name} not found"),
                        ));
                    }
                }
            }
            // Keep exactly the definitions some key still uses.
            let used: BTreeSet<&String> = std::iter::once(&meta.partition_key)
                .chain(meta.sort_key.as_ref())
                .chain(meta.indexes.iter().flat_map(|index| {
                    std::iter::once(&index.partition_key).chain(index.sort_key.as_ref())
                }))
                .collect();
            meta.attribute_definitions = defined
                .into_iter()
                .filter(|(name, _)| used.contains(name))
                .collect();
            changed = true;
        }
        if !changed {
            return Err(StoreError::validation(
                "At least one of ProvisionedThroughput, BillingMode, UpdateStreamEnabled, GlobalSecondaryIndexUpdates or SSESpecification or ReplicaUpdates is required",
            ));
        }
        for name in &dropped {
            self.backend.write(vec![Write::DropSpace {
                table_id: meta.id,
                index: Some(name.clone()),
            }])?;
        }
        let updated = Table::new(meta.clone())?;
        for name in &new_indexes {
            self.backfill(&updated, name)?;
        }
        let table = self.save_table(meta)?;
        Ok(CreateTableOutput {
            table_description: self.describe(&table, "ACTIVE", false)?,
        })
    }

    /// Writes the entries of a new index for every existing item.
    fn backfill(&self, table: &Table, index_name: &str) -> StoreResult<()> {
        let Some((_, index)) = table.index(index_name) else {
            return Ok(());
        };
        let space = Space::index(table.meta.id, index_name);
        let mut after: Option<(Vec<u8>, Vec<u8>)> = None;
        loop {
            let rows = self.backend.scan(
                &table.space(),
                after.as_ref().map(|(p, s)| (p.as_slice(), s.as_slice())),
                512,
            )?;
            let mut writes = Vec::new();
            for row in &rows {
                let item = super::decode_item(&row.value)?;
                // An item whose index key has the wrong type stays out of the
                // index, as DynamoDB's backfill reports it as a violation.
                if index.check_item(&item).is_err() {
                    continue;
                }
                if let Some(entry) = index.entry(&table.key, &item) {
                    let (partition, sort) = row_key(&index.key_schema, Some(&table.key), &entry)?;
                    writes.push(Write::Put {
                        space: space.clone(),
                        partition,
                        sort,
                        value: super::encode_item(&entry),
                    });
                }
            }
            if !writes.is_empty() {
                self.backend.write(writes)?;
            }
            match rows.last() {
                Some(last) if rows.len() == 512 => {
                    after = Some((last.partition.clone(), last.sort.clone()))
                }
                _ => return Ok(()),
            }
        }
    }

    /// `UpdateTimeToLive`
    pub fn update_time_to_live(
        &self,
        input: UpdateTimeToLiveInput,
    ) -> StoreResult<UpdateTimeToLiveOutput> {
        let mut violations = Violations::new();
        violations.table_name(input.table_name.as_ref(), "tableName");
        violations.required(
            input.time_to_live_specification.as_ref(),
            "timeToLiveSpecification",
        );
        if let Some(spec) = &input.time_to_live_specification {
            violations.required(
                spec.attribute_name.as_ref(),
                "timeToLiveSpecification.attributeName",
            );
            violations.required(spec.enabled.as_ref(), "timeToLiveSpecification.enabled");
        }
        violations.finish()?;
        let spec = input
            .time_to_live_specification
            .clone()
            .expect("checked above");
        let attribute = spec.attribute_name.clone().unwrap_or_default();
        if attribute.is_empty() {
            return Err(StoreError::validation(
                "1 validation error detected: Value '' at 'timeToLiveSpecification.attributeName' failed to satisfy constraint: Member must have length greater than or equal to 1",
            ));
        }
        let _gate = self.write_gate()?;
        let table = self.named_table(&TableNameInput {
            table_name: input.table_name.clone(),
        })?;
        let mut meta = table.meta.clone();
        match (spec.enabled == Some(true), &meta.ttl_attribute) {
            (true, Some(_)) => {
                return Err(StoreError::validation(
                    "TimeToLive is already enabled",
                ))
            }
            (false, None) => {
                return Err(StoreError::validation(
                    "TimeToLive is already disabled",
                ))
            }
            (false, Some(current)) if *current != attribute => {
                return Err(StoreError::validation(
                    "The specified attribute name does not match the existing TimeToLive attribute name",
                ))
            }
            (true, None) => meta.ttl_attribute = Some(attribute.clone()),
            (false, Some(_)) => meta.ttl_attribute = None,
        }
        self.save_table(meta)?;
        Ok(UpdateTimeToLiveOutput {
            time_to_live_specification: TimeToLiveSpecification {
                enabled: spec.enabled,
                attribute_name: Some(attribute),
            },
        })
    }

    /// `DescribeTimeToLive`
    pub fn describe_time_to_live(
        &self,
        input: TableNameInput,
    ) -> StoreResult<DescribeTimeToLiveOutput> {
        let table = self.named_table(&input)?;
        Ok(DescribeTimeToLiveOutput {
            time_to_live_description: TimeToLiveDescription {
                time_to_live_status: if table.meta.ttl_attribute.is_some() {
                    "ENABLED".to_owned()
                } else {
                    "DISABLED".to_owned()
                },
                attribute_name: table.meta.ttl_attribute.clone(),
            },
        })
    }

    /// The table name a resource ARN names, checked without looking the table up: a
    /// malformed ARN, or one whose table name could not exist, is invalid; a table ARN of
    /// another account or region is denied.
    fn table_name_of_arn<'a>(
        &self,
        arn: Option<&'a String>,
        operation: &str,
    ) -> StoreResult<&'a str> {
        let mut violations = Violations::new();
        violations.required(arn, "resourceArn");
        violations.finish()?;
        let arn = arn.map(String::as_str).unwrap_or_default();
        let prefix = table_arn(&self.config.region, &self.config.account_id, "");
        let invalid = || {
            StoreError::validation(format!(
                "Invalid TableArn: Invalid ResourceArn provided as input {arn}"
            ))
        };
        match arn.strip_prefix(&prefix) {
            Some(name) => {
                let mut name_check = Violations::new();
                name_check.name_pattern(name, "tableName");
                name_check.finish().map_err(|_| invalid())?;
                Ok(name)
            }
            // A well-formed table ARN of another account or region names a
            // table this caller cannot see: AWS denies access rather than
            // calling the ARN invalid.
            None if is_foreign_table_arn(arn) => Err(StoreError::new(
                ErrorKind::AccessDenied,
                format!(
                    "User is not authorized to perform: dynamodb:{operation} on resource: {arn}"
                ),
            )),
            None => Err(invalid()),
        }
    }

    /// The table a resource ARN names.
    fn table_of_arn(&self, arn: Option<&String>, name: &str) -> StoreResult<Arc<Table>> {
        self.table(name).map_err(|_| {
            StoreError::new(
                ErrorKind::ResourceNotFound,
                format!(
                    "Requested resource not found: ResourcArn: {} not found",
                    arn.map(String::as_str).unwrap_or_default()
                ),
            )
        })
    }

    /// `TagResource`
    pub fn tag_resource(&self, input: TagResourceInput) -> StoreResult<EmptyOutput> {
        let mut violations = Violations::new();
        violations.required(input.tags.as_ref(), "tags");
        violations.finish()?;
        let name = self.table_name_of_arn(input.resource_arn.as_ref(), "TagResource")?;
        let tags = input.tags.as_deref().unwrap_or_default();
        if tags.is_empty() {
            return Err(StoreError::validation(
                "Atleast one Tag needs to be provided as Input.",
            ));
        }
        let pairs = tag_pairs(tags)?;
        let _gate = self.write_gate()?;
        let table = self.table_of_arn(input.resource_arn.as_ref(), name)?;
        let mut meta = table.meta.clone();
        for (key, value) in pairs {
            meta.tags.retain(|(existing, _)| *existing != key);
            meta.tags.push((key, value));
        }
        if meta.tags.len() > 50 {
            return Err(StoreError::validation(
                "One or more parameter values were invalid: The number of tags exceeds the limit of 50",
            ));
        }
        self.save_table(meta)?;
        Ok(EmptyOutput {})
    }

    /// `UntagResource`
    pub fn untag_resource(&self, input: UntagResourceInput) -> StoreResult<EmptyOutput> {
        let mut violations = Violations::new();
        violations.required(input.tag_keys.as_ref(), "tagKeys");
        violations.finish()?;
        let name = self.table_name_of_arn(input.resource_arn.as_ref(), "UntagResource")?;
        if input.tag_keys.as_ref().is_some_and(Vec::is_empty) {
            return Err(StoreError::validation(
                "Atleast one Tag Key needs to be provided as Input.",
            ));
        }
        let _gate = self.write_gate()?;
        let table = self.table_of_arn(input.resource_arn.as_ref(), name)?;
        let mut meta = table.meta.clone();
        let keys = input.tag_keys.unwrap_or_default();
        meta.tags.retain(|(key, _)| !keys.contains(key));
        self.save_table(meta)?;
        Ok(EmptyOutput {})
    }

    /// `ListTagsOfResource` (all tags on one page).
    pub fn list_tags_of_resource(
        &self,
        input: ListTagsOfResourceInput,
    ) -> StoreResult<ListTagsOfResourceOutput> {
        let name = self.table_name_of_arn(input.resource_arn.as_ref(), "ListTagsOfResource")?;
        let table = self.table_of_arn(input.resource_arn.as_ref(), name)?;
        Ok(ListTagsOfResourceOutput {
            tags: table
                .meta
                .tags
                .iter()
                .map(|(key, value)| Tag {
                    key: Some(key.clone()),
                    value: Some(value.clone()),
                })
                .collect(),
        })
    }
}

fn tag_pairs(tags: &[Tag]) -> StoreResult<Vec<(String, String)>> {
    let mut pairs = Vec::new();
    for tag in tags {
        let mut violations = Violations::new();
        violations.required(tag.key.as_ref(), "tags.member.key");
        violations.required(tag.value.as_ref(), "tags.member.value");
        violations.finish()?;
        pairs.push((
            tag.key.clone().unwrap_or_default(),
            tag.value.clone().unwrap_or_default(),
        ));
    }
    Ok(pairs)
}

fn stream_label(now: f64) -> String {
    let millis = (now * 1000.0) as i64;
    let seconds = millis.div_euclid(1000);
    let days = seconds.div_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    let in_day = seconds.rem_euclid(86_400);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}",
        in_day / 3600,
        in_day / 60 % 60,
        in_day % 60,
        millis.rem_euclid(1000)
    )
}

/// Days since 1970-01-01 to (year, month, day), after Howard Hinnant's
/// public-domain `civil_from_days` algorithm.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn global_index(
    gsi: &GlobalSecondaryIndex,
    defined: &BTreeMap<String, String>,
    billing_mode: &str,
) -> StoreResult<IndexMeta> {
    let mut violations = Violations::new();
    violations.table_name(
        gsi.index_name.as_ref(),
        "globalSecondaryIndexes.member.indexName",
    );
    check_key_schema_shape(
        &mut violations,
        gsi.key_schema.as_ref(),
        "globalSecondaryIndexes.member.keySchema",
    );
    violations.required(
        gsi.projection.as_ref(),
        "globalSecondaryIndexes.member.projection",
    );
    violations.finish()?;
    let name = gsi.index_name.clone().unwrap_or_default();
    let (partition_key, sort_key) =
        key_names(gsi.key_schema.as_deref().unwrap_or_default(), defined)?;
    let (projection_type, non_key_attributes) = index_projection(gsi.projection.as_ref(), &name)?;
    let (read_capacity, write_capacity) =
        throughput(billing_mode, gsi.provisioned_throughput.as_ref(), true)?;
    Ok(IndexMeta {
        name,
        partition_key,
        sort_key,
        projection_type,
        non_key_attributes,
        global: true,
        read_capacity,
        write_capacity,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_labels() {
        assert_eq!(stream_label(0.0), "1970-01-01T00:00:00.000");
        assert_eq!(stream_label(1_700_000_000.5), "2023-11-14T22:13:20.500");
    }
}
