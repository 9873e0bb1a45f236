//! The per-request accumulator [`ConsumedCapacity`] and its DynamoDB JSON (shapes and sources in
//! the parent module's docs).
//!
//! Invariants: one entry per table, in order of first appearance; inside it, the table's own
//! usage and one entry per index (by kind, in order of first appearance), each split into read
//! and write units. A table's reported `CapacityUnits` is its own plus all its indexes'. The
//! number of entries is bounded by the request: the API layer validates batch and transaction
//! sizes (100 keys, 25 writes, 100 actions) before anything is charged, and lookups are linear
//! over at most that many tables.

use serde_json::{Map, Value};

use super::{CapacityUnits, ReturnConsumedCapacity};

/// Whether units were consumed by reading or by writing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Access {
    Read,
    Write,
}

/// The kind of secondary index an index entry belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IndexKind {
    /// `GlobalSecondaryIndexes` in the response.
    Global,
    /// `LocalSecondaryIndexes` in the response.
    Local,
}

/// The operation whose response is being built: it decides between one object and a list, and
/// whether `ReadCapacityUnits` / `WriteCapacityUnits` are reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CapacityOp {
    GetItem,
    PutItem,
    UpdateItem,
    DeleteItem,
    Query,
    Scan,
    BatchGetItem,
    BatchWriteItem,
    TransactGetItems,
    TransactWriteItems,
}

impl CapacityOp {
    /// True when the response carries a list (one entry per table) rather than one object.
    pub const fn is_list(self) -> bool {
        matches!(
            self,
            Self::BatchGetItem
                | Self::BatchWriteItem
                | Self::TransactGetItems
                | Self::TransactWriteItems
        )
    }

    /// What the operation mostly consumes.
    pub const fn access(self) -> Access {
        match self {
            Self::GetItem
            | Self::Query
            | Self::Scan
            | Self::BatchGetItem
            | Self::TransactGetItems => Access::Read,
            Self::PutItem
            | Self::UpdateItem
            | Self::DeleteItem
            | Self::BatchWriteItem
            | Self::TransactWriteItems => Access::Write,
        }
    }

    /// True when DynamoDB splits the total into `ReadCapacityUnits` / `WriteCapacityUnits`
    /// (the transactions, per the AWS CLI's recorded examples).
    pub const fn reports_read_write(self) -> bool {
        matches!(self, Self::TransactGetItems | Self::TransactWriteItems)
    }
}

/// Read and write units consumed on one table or index.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    pub read: CapacityUnits,
    pub write: CapacityUnits,
}

impl Usage {
    /// Read plus write.
    pub fn total(self) -> CapacityUnits {
        self.read + self.write
    }

    fn add(&mut self, access: Access, units: CapacityUnits) {
        match access {
            Access::Read => self.read += units,
            Access::Write => self.write += units,
        }
    }
}

impl std::ops::Add for Usage {
    type Output = Usage;
    fn add(self, rhs: Usage) -> Usage {
        Usage {
            read: self.read + rhs.read,
            write: self.write + rhs.write,
        }
    }
}

#[derive(Clone, Debug)]
struct TableEntry {
    name: String,
    table: Usage,
    global: Vec<(String, Usage)>,
    local: Vec<(String, Usage)>,
}

impl TableEntry {
    fn total(&self) -> Usage {
        self.global
            .iter()
            .chain(&self.local)
            .fold(self.table, |acc, (_, u)| acc + *u)
    }
}

/// What one request consumed, per table (and per index), and its `ConsumedCapacity` JSON.
///
/// It accumulates whatever `ReturnConsumedCapacity` says, so the totals are available for
/// metering even when the client did not ask for them; only [`Self::to_json`] looks at the
/// mode.
#[derive(Clone, Debug)]
pub struct ConsumedCapacity {
    mode: ReturnConsumedCapacity,
    op: CapacityOp,
    tables: Vec<TableEntry>,
}

impl ConsumedCapacity {
    /// An empty account for one request of `op`, answered as `mode` asks.
    pub fn new(mode: ReturnConsumedCapacity, op: CapacityOp) -> Self {
        ConsumedCapacity {
            mode,
            op,
            tables: Vec::new(),
        }
    }

    /// The requested detail.
    pub fn mode(&self) -> ReturnConsumedCapacity {
        self.mode
    }

    /// The operation.
    pub fn op(&self) -> CapacityOp {
        self.op
    }

    /// Charges `units` of `access` to the table itself. A table charged zero units still
    /// appears in the answer.
    pub fn add_table(&mut self, table: &str, access: Access, units: CapacityUnits) {
        self.entry(table).table.add(access, units);
    }

    /// Charges read units to the table itself.
    pub fn add_read(&mut self, table: &str, units: CapacityUnits) {
        self.add_table(table, Access::Read, units);
    }

    /// Charges write units to the table itself.
    pub fn add_write(&mut self, table: &str, units: CapacityUnits) {
        self.add_table(table, Access::Write, units);
    }

    /// Charges `units` of `access` to one secondary index of `table`.
    pub fn add_index(
        &mut self,
        table: &str,
        kind: IndexKind,
        index: &str,
        access: Access,
        units: CapacityUnits,
    ) {
        let entry = self.entry(table);
        let list = match kind {
            IndexKind::Global => &mut entry.global,
            IndexKind::Local => &mut entry.local,
        };
        let pos = match list.iter().position(|(n, _)| n == index) {
            Some(pos) => pos,
            None => {
                list.push((index.to_owned(), Usage::default()));
                list.len() - 1
            }
        };
        list[pos].1.add(access, units);
    }

    /// The units charged to the table itself (not its indexes), if it was charged at all.
    pub fn table_usage(&self, table: &str) -> Option<Usage> {
        self.find(table).map(|t| t.table)
    }

    /// The units charged to one index, if it was charged at all.
    pub fn index_usage(&self, table: &str, kind: IndexKind, index: &str) -> Option<Usage> {
        let t = self.find(table)?;
        let list = match kind {
            IndexKind::Global => &t.global,
            IndexKind::Local => &t.local,
        };
        list.iter().find(|(n, _)| n == index).map(|(_, u)| *u)
    }

    /// The table's own units plus all its indexes'.
    pub fn table_total(&self, table: &str) -> Option<Usage> {
        self.find(table).map(TableEntry::total)
    }

    /// Everything the request consumed.
    pub fn total(&self) -> Usage {
        self.tables
            .iter()
            .fold(Usage::default(), |acc, t| acc + t.total())
    }

    /// The tables charged, in order of first appearance.
    pub fn table_names(&self) -> impl Iterator<Item = &str> {
        self.tables.iter().map(|t| t.name.as_str())
    }

    /// The `ConsumedCapacity` member's value, or `None` when it must be left out (`NONE`, or
    /// a single-table operation that charged nothing).
    pub fn to_json(&self) -> Option<Value> {
        if !self.mode.is_requested() {
            return None;
        }
        if self.op.is_list() {
            return Some(Value::Array(
                self.tables.iter().map(|t| self.entry_json(t)).collect(),
            ));
        }
        debug_assert!(self.tables.len() <= 1, "{:?} charges one table", self.op);
        self.tables.first().map(|t| self.entry_json(t))
    }

    /// Adds `"ConsumedCapacity"` to a response object when [`Self::to_json`] has something.
    pub fn write_into(&self, response: &mut Map<String, Value>) {
        if let Some(v) = self.to_json() {
            response.insert("ConsumedCapacity".to_owned(), v);
        }
    }

    fn entry(&mut self, table: &str) -> &mut TableEntry {
        let pos = match self.tables.iter().position(|t| t.name == table) {
            Some(pos) => pos,
            None => {
                self.tables.push(TableEntry {
                    name: table.to_owned(),
                    table: Usage::default(),
                    global: Vec::new(),
                    local: Vec::new(),
                });
                self.tables.len() - 1
            }
        };
        &mut self.tables[pos]
    }

    fn find(&self, table: &str) -> Option<&TableEntry> {
        self.tables.iter().find(|t| t.name == table)
    }

    fn entry_json(&self, t: &TableEntry) -> Value {
        let mut m = Map::new();
        m.insert("TableName".to_owned(), Value::String(t.name.clone()));
        self.put_units(&mut m, t.total());
        if self.mode == ReturnConsumedCapacity::Indexes {
            m.insert("Table".to_owned(), self.capacity_json(t.table));
            for (key, list) in [
                ("LocalSecondaryIndexes", &t.local),
                ("GlobalSecondaryIndexes", &t.global),
            ] {
                if !list.is_empty() {
                    let map: Map<String, Value> = list
                        .iter()
                        .map(|(n, u)| (n.clone(), self.capacity_json(*u)))
                        .collect();
                    m.insert(key.to_owned(), Value::Object(map));
                }
            }
        }
        Value::Object(m)
    }

    /// A `Capacity` object (`API_Capacity`): `CapacityUnits`, and the split for transactions.
    fn capacity_json(&self, usage: Usage) -> Value {
        let mut m = Map::new();
        self.put_units(&mut m, usage);
        Value::Object(m)
    }

    fn put_units(&self, m: &mut Map<String, Value>, usage: Usage) {
        m.insert("CapacityUnits".to_owned(), usage.total().as_f64().into());
        if self.op.reports_read_write() {
            let primary = self.op.access();
            if primary == Access::Read || !usage.read.is_zero() {
                m.insert("ReadCapacityUnits".to_owned(), usage.read.as_f64().into());
            }
            if primary == Access::Write || !usage.write.is_zero() {
                m.insert("WriteCapacityUnits".to_owned(), usage.write.as_f64().into());
            }
        }
    }
}
