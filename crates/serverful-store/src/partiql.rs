//! PartiQL for DynamoDB, the subset applications use: `SELECT`, `INSERT`,
//! `UPDATE` and `DELETE` on one table (or index), with `?` parameters and
//! literal values, parsed into [`Statement`]s that the engine runs through the
//! ordinary item operations.
//!
//! Supported: `SELECT * | path, ... FROM "table"["index"] [WHERE cond]`,
//! `INSERT INTO "table" VALUE {...}`, `UPDATE "table" SET path = value, ...
//! [REMOVE path, ...] WHERE cond`, `DELETE FROM "table" WHERE cond`, and
//! `EXISTS(SELECT ...)`, the condition check of a transaction.
//! Conditions: comparisons, `AND`/`OR`/`NOT`, parentheses, `BETWEEN`,
//! `IN [...]`, `IS [NOT] MISSING`, `IS [NOT] NULL` (a NULL-typed
//! attribute, not a missing one), and DynamoDB's functions `begins_with`,
//! `contains`, `attribute_exists`/`attribute_not_exists`, `attribute_type`
//! and `size` (an operand of comparisons, `BETWEEN` and `IN`); `ORDER BY
//! <sort key> [ASC | DESC]` on a SELECT that names its partition key.
//! `UPDATE ... SET` also takes `list_append(a, b)`, and `path =
//! set_add(path, <<...>>)` / `set_delete(...)`, which add or remove set
//! members. `UPDATE` ends with an optional `RETURNING ALL OLD * | MODIFIED
//! OLD * | ALL NEW * | MODIFIED NEW *`, `DELETE` with `RETURNING ALL OLD *`
//! (`ExecuteStatement` answers with the item as `ReturnValues` would). Not
//! supported: nested `SELECT`s.

use std::collections::BTreeMap;

use crate::error::{StoreError, StoreResult};
use crate::expression::{Comparator, Condition, Operand, Path, PathElement};
use base64::Engine as _;

use crate::value::{wire, AttributeType, AttributeValue, Item, Number};

/// Statements nest maps and conditions at most this deep.
const MAX_DEPTH: usize = 32;

/// What a write statement's `RETURNING` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Returning {
    /// `ALL OLD *`
    AllOld,
    /// `MODIFIED OLD *`
    ModifiedOld,
    /// `ALL NEW *`
    AllNew,
    /// `MODIFIED NEW *`
    ModifiedNew,
}

impl Returning {
    /// The same request as an item operation's `ReturnValues`.
    pub fn return_values(self) -> &'static str {
        match self {
            Returning::AllOld => "ALL_OLD",
            Returning::ModifiedOld => "UPDATED_OLD",
            Returning::AllNew => "ALL_NEW",
            Returning::ModifiedNew => "UPDATED_NEW",
        }
    }
}

/// A parsed statement.
#[derive(Debug, Clone, PartialEq)]
pub enum Statement {
    /// `SELECT`
    Select {
        /// Table name.
        table: String,
        /// Index name, when reading an index.
        index: Option<String>,
        /// The paths to return; `None` for `*`.
        projection: Option<Vec<Path>>,
        /// The `WHERE` condition.
        condition: Option<Condition>,
        /// `ORDER BY path [ASC | DESC]`: the path and whether descending.
        order: Option<(Path, bool)>,
    },
    /// `INSERT INTO ... VALUE {...}`
    Insert {
        /// Table name.
        table: String,
        /// The new item.
        item: Item,
    },
    /// `UPDATE ... SET ... REMOVE ... WHERE ...`
    Update {
        /// Table name.
        table: String,
        /// `SET path = value`, in order.
        set: Vec<(Path, SetOperand)>,
        /// `REMOVE path`, in order.
        remove: Vec<Path>,
        /// The `WHERE` condition (must pin the key).
        condition: Condition,
        /// `RETURNING ...`
        returning: Option<Returning>,
    },
    /// `DELETE FROM ... WHERE ...`
    Delete {
        /// Table name.
        table: String,
        /// The `WHERE` condition (must pin the key).
        condition: Condition,
        /// `RETURNING ALL OLD *`
        returning: Option<Returning>,
    },
    /// `EXISTS(SELECT ... FROM ... WHERE ...)`: a transaction's condition
    /// check on one item.
    Exists {
        /// Table name.
        table: String,
        /// Index name, when the SELECT reads an index (refused in transactions).
        index: Option<String>,
        /// The SELECT's `WHERE` condition (must pin the key and check more).
        condition: Option<Condition>,
    },
}

/// An argument of a function call: a document path or a value.
enum Argument {
    Path(Path),
    Value(AttributeValue),
}

/// DynamoDB's message for a function called with the wrong number of arguments.
fn operand_count(function: &str, count: usize) -> StoreError {
    StoreError::validation(format!(
        "Incorrect number of operands for operator or function; operator or function: {function}, number of operands: {count}"
    ))
}

/// DynamoDB's message for a function whose first argument is not a path.
fn path_required(function: &str) -> StoreError {
    StoreError::validation(format!(
        "Operator or function requires a document path; operator or function: {function}"
    ))
}

/// The right side of an `UPDATE ... SET path = ...`.
#[derive(Debug, Clone, PartialEq)]
pub enum SetOperand {
    /// A value or parameter.
    Value(AttributeValue),
    /// Another attribute of the item.
    Path(Path),
    /// `a + b`
    Plus(Box<SetOperand>, Box<SetOperand>),
    /// `a - b`
    Minus(Box<SetOperand>, Box<SetOperand>),
    /// `list_append(a, b)`
    ListAppend(Box<SetOperand>, Box<SetOperand>),
    /// `path = set_add(path, set)`: adds the set's members to the set at the
    /// assigned path.
    SetAdd(AttributeValue),
    /// `path = set_delete(path, set)`: removes the set's members from it.
    SetDelete(AttributeValue),
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Quoted(String),
    Text(String),
    Number(String),
    Symbol(&'static str),
}

fn syntax(message: impl AsRef<str>) -> StoreError {
    StoreError::validation(format!(
        "Statement wasn't well formed, can't be processed: {}",
        message.as_ref()
    ))
}

const SYMBOLS: [&str; 20] = [
    "<<", ">>", "<>", "!=", "<=", ">=", "=", "<", ">", "*", ",", ".", "[", "]", "(", ")", "{", "}",
    "+", "-",
];

/// Where a token is in the statement, as DynamoDB's messages give it
/// (`line:column:length`, counted in characters from 1).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Span {
    line: usize,
    column: usize,
    length: usize,
}

/// The span of `chars[start..end]`.
fn span(chars: &[char], start: usize, end: usize) -> Span {
    let before = &chars[..start];
    let line_start = before
        .iter()
        .rposition(|character| *character == '\n')
        .map_or(0, |newline| newline + 1);
    Span {
        line: 1 + before
            .iter()
            .filter(|character| **character == '\n')
            .count(),
        column: start - line_start + 1,
        length: end - start,
    }
}

fn tokenize(text: &str) -> StoreResult<(Vec<Token>, Vec<Span>)> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut spans = Vec::new();
    let mut token_start = 0;
    let mut index = 0;
    while index < chars.len() {
        // Every branch below that pushes a token leaves `index` at its end.
        if spans.len() < tokens.len() {
            spans.push(span(&chars, token_start, index));
        }
        let character = chars[index];
        if character.is_whitespace() {
            index += 1;
            continue;
        }
        token_start = index;
        if character == '?' || character == ':' || character == ';' {
            tokens.push(Token::Symbol(match character {
                '?' => "?",
                ':' => ":",
                _ => ";",
            }));
            index += 1;
            continue;
        }
        if character == '\'' || character == '"' {
            let mut value = String::new();
            index += 1;
            loop {
                match chars.get(index) {
                    None => return Err(syntax("unterminated quoted text")),
                    Some(&next) if next == character => {
                        if chars.get(index + 1) == Some(&character) {
                            value.push(character);
                            index += 2;
                        } else {
                            index += 1;
                            break;
                        }
                    }
                    Some(&next) => {
                        value.push(next);
                        index += 1;
                    }
                }
            }
            tokens.push(if character == '\'' {
                Token::Text(value)
            } else {
                Token::Quoted(value)
            });
            continue;
        }
        if character.is_ascii_digit()
            || (character == '-' && chars.get(index + 1).is_some_and(char::is_ascii_digit))
        {
            let start = index;
            index += 1;
            while chars.get(index).is_some_and(|next| {
                next.is_ascii_alphanumeric() || *next == '.' || *next == '+' || *next == '-'
            }) {
                // A sign only belongs to the number right after an exponent.
                if matches!(chars[index], '+' | '-') && !matches!(chars[index - 1], 'e' | 'E') {
                    break;
                }
                index += 1;
            }
            tokens.push(Token::Number(chars[start..index].iter().collect()));
            continue;
        }
        if character.is_alphabetic() || character == '_' {
            let start = index;
            while chars
                .get(index)
                .is_some_and(|next| next.is_alphanumeric() || *next == '_' || *next == '$')
            {
                index += 1;
            }
            tokens.push(Token::Word(chars[start..index].iter().collect()));
            continue;
        }
        let rest: String = chars[index..chars.len().min(index + 2)].iter().collect();
        let Some(symbol) = SYMBOLS.iter().find(|symbol| rest.starts_with(**symbol)) else {
            return Err(syntax(format!("unexpected character {character}")));
        };
        tokens.push(Token::Symbol(symbol));
        index += symbol.len();
    }
    if spans.len() < tokens.len() {
        spans.push(span(&chars, token_start, index));
    }
    Ok((tokens, spans))
}

/// Parses one statement, taking `?` values from `parameters` in order.
pub fn parse(text: &str, parameters: &[AttributeValue]) -> StoreResult<Statement> {
    let (tokens, spans) = tokenize(text)?;
    let mut parser = Parser {
        tokens,
        spans,
        position: 0,
        parameters,
        next_parameter: 0,
        depth: 0,
    };
    let statement = parser.statement()?;
    // A trailing semicolon is allowed.
    parser.eat_symbol(";");
    if parser.position != parser.tokens.len() {
        return Err(syntax("unexpected text after the statement"));
    }
    if parser.next_parameter != parameters.len() {
        return Err(StoreError::validation(
            "Number of parameters in request and statement don't match.",
        ));
    }
    Ok(statement)
}

struct Parser<'a> {
    tokens: Vec<Token>,
    /// Where each token is, for messages that point at one.
    spans: Vec<Span>,
    position: usize,
    parameters: &'a [AttributeValue],
    next_parameter: usize,
    depth: usize,
}

impl Parser<'_> {
    /// ` at line:column:length` of the token at `position`, as DynamoDB ends
    /// messages that point into the statement.
    fn at(&self, position: usize) -> String {
        self.spans
            .get(position)
            .map(|span| format!(" at {}:{}:{}", span.line, span.column, span.length))
            .unwrap_or_default()
    }

    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.position)
    }

    fn is_keyword(&self, keyword: &str) -> bool {
        matches!(self.peek(), Some(Token::Word(word)) if word.eq_ignore_ascii_case(keyword))
    }

    fn eat_keyword(&mut self, keyword: &str) -> bool {
        if self.is_keyword(keyword) {
            self.position += 1;
            true
        } else {
            false
        }
    }

    fn keyword(&mut self, keyword: &str) -> StoreResult<()> {
        if self.eat_keyword(keyword) {
            Ok(())
        } else {
            Err(syntax(format!("expected {keyword}")))
        }
    }

    /// An optional `RETURNING (ALL | MODIFIED) (OLD | NEW) *`.
    fn returning(&mut self) -> StoreResult<Option<Returning>> {
        if !self.eat_keyword("RETURNING") {
            return Ok(None);
        }
        let all = if self.eat_keyword("ALL") {
            true
        } else if self.eat_keyword("MODIFIED") {
            false
        } else {
            return Err(syntax("expected ALL or MODIFIED after RETURNING"));
        };
        let old = if self.eat_keyword("OLD") {
            true
        } else if self.eat_keyword("NEW") {
            false
        } else {
            return Err(syntax("expected OLD or NEW after RETURNING"));
        };
        self.symbol("*")?;
        Ok(Some(match (all, old) {
            (true, true) => Returning::AllOld,
            (false, true) => Returning::ModifiedOld,
            (true, false) => Returning::AllNew,
            (false, false) => Returning::ModifiedNew,
        }))
    }

    fn eat_symbol(&mut self, symbol: &str) -> bool {
        if matches!(self.peek(), Some(Token::Symbol(found)) if *found == symbol) {
            self.position += 1;
            true
        } else {
            false
        }
    }

    fn symbol(&mut self, symbol: &str) -> StoreResult<()> {
        if self.eat_symbol(symbol) {
            Ok(())
        } else {
            Err(syntax(format!("expected {symbol}")))
        }
    }

    fn deeper(&mut self) -> StoreResult<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(syntax("statement nested too deeply"));
        }
        Ok(())
    }

    fn statement(&mut self) -> StoreResult<Statement> {
        if self.eat_keyword("SELECT") {
            let projection = if self.eat_symbol("*") {
                None
            } else {
                let mut paths = vec![self.path()?];
                while self.eat_symbol(",") {
                    paths.push(self.path()?);
                }
                Some(paths)
            };
            self.keyword("FROM")?;
            let table = self.name()?;
            let index = if self.eat_symbol(".") {
                Some(self.name()?)
            } else {
                None
            };
            let condition = if self.eat_keyword("WHERE") {
                Some(self.or()?)
            } else {
                None
            };
            let order = if self.eat_keyword("ORDER") {
                self.keyword("BY")?;
                let path = self.path()?;
                let descending = if self.eat_keyword("DESC") {
                    true
                } else {
                    self.eat_keyword("ASC");
                    false
                };
                Some((path, descending))
            } else {
                None
            };
            return Ok(Statement::Select {
                table,
                index,
                projection,
                condition,
                order,
            });
        }
        if self.eat_keyword("INSERT") {
            self.keyword("INTO")?;
            let table = self.name()?;
            self.keyword("VALUE")?;
            let AttributeValue::M(item) = self.value()? else {
                return Err(StoreError::validation(
                    "Unsupported operation: Inserting a value that is not a map",
                ));
            };
            return Ok(Statement::Insert { table, item });
        }
        if self.eat_keyword("UPDATE") {
            let table = self.name()?;
            let mut set = Vec::new();
            let mut remove = Vec::new();
            loop {
                if self.eat_keyword("SET") {
                    loop {
                        let path = self.path()?;
                        self.symbol("=")?;
                        let value = match self.function_name().as_deref() {
                            Some(name @ ("set_add" | "set_delete")) => {
                                self.set_function(name, &path)?
                            }
                            _ => self.set_operand()?,
                        };
                        set.push((path, value));
                        if !self.eat_symbol(",") {
                            break;
                        }
                    }
                } else if self.eat_keyword("REMOVE") {
                    loop {
                        remove.push(self.path()?);
                        if !self.eat_symbol(",") {
                            break;
                        }
                    }
                } else {
                    break;
                }
            }
            if set.is_empty() && remove.is_empty() {
                return Err(syntax("expected SET or REMOVE"));
            }
            self.keyword("WHERE")?;
            let condition = self.or()?;
            let returning = self.returning()?;
            return Ok(Statement::Update {
                table,
                set,
                remove,
                condition,
                returning,
            });
        }
        if self.eat_keyword("DELETE") {
            self.keyword("FROM")?;
            let table = self.name()?;
            self.keyword("WHERE")?;
            let condition = self.or()?;
            let returning = self.returning()?;
            if returning.is_some_and(|returning| returning != Returning::AllOld) {
                return Err(syntax("DELETE can only return ALL OLD *"));
            }
            return Ok(Statement::Delete {
                table,
                condition,
                returning,
            });
        }
        if self.is_keyword("EXISTS")
            && matches!(self.tokens.get(self.position + 1), Some(Token::Symbol("(")))
        {
            self.position += 2;
            if !self.is_keyword("SELECT") {
                return Err(syntax("expected SELECT"));
            }
            let Statement::Select {
                table,
                index,
                condition,
                ..
            } = self.statement()?
            else {
                unreachable!("a statement starting with SELECT is a Select");
            };
            self.symbol(")")?;
            return Ok(Statement::Exists {
                table,
                index,
                condition,
            });
        }
        // DynamoDB's words for a statement that is none of the above.
        Err(syntax("Expected data manipulation"))
    }

    /// A table or index name: quoted or bare.
    fn name(&mut self) -> StoreResult<String> {
        match self.peek().cloned() {
            Some(Token::Quoted(name)) | Some(Token::Word(name)) => {
                self.position += 1;
                Ok(name)
            }
            _ => Err(syntax("expected a table name")),
        }
    }

    fn path(&mut self) -> StoreResult<Path> {
        let first = self.name()?;
        let mut elements = vec![PathElement::Name(first)];
        loop {
            if self.eat_symbol(".") {
                elements.push(PathElement::Name(self.name()?));
            } else if self.eat_symbol("[") {
                let Some(Token::Number(number)) = self.peek().cloned() else {
                    return Err(syntax("expected a list index"));
                };
                self.position += 1;
                let index = number
                    .parse::<usize>()
                    .map_err(|_| syntax("expected a list index"))?;
                self.symbol("]")?;
                elements.push(PathElement::Index(index));
            } else {
                return Ok(Path { elements });
            }
        }
    }

    /// `set_add(path, set)` or `set_delete(path, set)` assigned to `target`.
    fn set_function(&mut self, function: &str, target: &Path) -> StoreResult<SetOperand> {
        let upper = function.to_ascii_uppercase();
        let name_position = self.position;
        self.position += 1;
        let first_position = self.position + 1;
        let mut arguments = self.arguments()?;
        if arguments.len() != 2 {
            return Err(StoreError::validation(format!(
                "{upper} must have exactly two arguments{}",
                self.at(name_position)
            )));
        }
        let members = arguments.pop().expect("two arguments");
        if !matches!(arguments.pop(), Some(Argument::Path(path)) if path == *target) {
            return Err(StoreError::validation(format!(
                "The first argument to {upper} must equal the assignment value{}",
                self.at(name_position)
            )));
        }
        let set = match members {
            Argument::Value(
                set @ (AttributeValue::SS(_) | AttributeValue::NS(_) | AttributeValue::BS(_)),
            ) => set,
            _ => {
                return Err(StoreError::validation(format!(
                    "The second argument to {upper} must be a value with type SET{}",
                    self.at(first_position)
                )))
            }
        };
        Ok(if function == "set_add" {
            SetOperand::SetAdd(set)
        } else {
            SetOperand::SetDelete(set)
        })
    }

    fn set_term(&mut self) -> StoreResult<SetOperand> {
        if self.function_name().as_deref() == Some("list_append") {
            self.position += 1;
            self.symbol("(")?;
            let first = self.set_term()?;
            self.symbol(",")?;
            let second = self.set_term()?;
            self.symbol(")")?;
            return Ok(SetOperand::ListAppend(Box::new(first), Box::new(second)));
        }
        match self.peek() {
            Some(Token::Word(word))
                if !["true", "false", "null"]
                    .iter()
                    .any(|literal| word.eq_ignore_ascii_case(literal)) =>
            {
                Ok(SetOperand::Path(self.path()?))
            }
            Some(Token::Quoted(_)) => Ok(SetOperand::Path(self.path()?)),
            _ => Ok(SetOperand::Value(self.value()?)),
        }
    }

    fn set_operand(&mut self) -> StoreResult<SetOperand> {
        let left = self.set_term()?;
        if self.eat_symbol("+") {
            return Ok(SetOperand::Plus(Box::new(left), Box::new(self.set_term()?)));
        }
        if self.eat_symbol("-") {
            return Ok(SetOperand::Minus(
                Box::new(left),
                Box::new(self.set_term()?),
            ));
        }
        // `n -1` lexes as a negative number right after the operand.
        if let Some(Token::Number(number)) = self.peek().cloned() {
            if let Some(magnitude) = number.strip_prefix('-') {
                self.position += 1;
                let value = AttributeValue::N(Number::parse(magnitude)?);
                return Ok(SetOperand::Minus(
                    Box::new(left),
                    Box::new(SetOperand::Value(value)),
                ));
            }
        }
        Ok(left)
    }

    fn value(&mut self) -> StoreResult<AttributeValue> {
        self.deeper()?;
        let value = self.value_inner();
        self.depth -= 1;
        value
    }

    fn value_inner(&mut self) -> StoreResult<AttributeValue> {
        let Some(token) = self.peek().cloned() else {
            return Err(syntax("expected a value"));
        };
        self.position += 1;
        Ok(match token {
            Token::Symbol("?") => {
                let value = self
                    .parameters
                    .get(self.next_parameter)
                    .cloned()
                    .ok_or_else(|| {
                        StoreError::validation(
                            "Number of parameters in request and statement don't match.",
                        )
                    })?;
                self.next_parameter += 1;
                value
            }
            Token::Text(text) => AttributeValue::S(text),
            Token::Number(text) => AttributeValue::N(Number::parse(&text)?),
            Token::Word(word) if word.eq_ignore_ascii_case("true") => AttributeValue::Bool(true),
            Token::Word(word) if word.eq_ignore_ascii_case("false") => AttributeValue::Bool(false),
            Token::Word(word) if word.eq_ignore_ascii_case("null") => AttributeValue::Null,
            Token::Symbol("{") => {
                let mut map = BTreeMap::new();
                if !self.eat_symbol("}") {
                    loop {
                        let Some(Token::Text(key)) = self.peek().cloned() else {
                            return Err(syntax("expected a quoted map key"));
                        };
                        self.position += 1;
                        self.symbol(":")?;
                        map.insert(key, self.value()?);
                        if self.eat_symbol("}") {
                            break;
                        }
                        self.symbol(",")?;
                    }
                }
                AttributeValue::M(map)
            }
            Token::Symbol("[") => {
                let mut list = Vec::new();
                if !self.eat_symbol("]") {
                    loop {
                        list.push(self.value()?);
                        if self.eat_symbol("]") {
                            break;
                        }
                        self.symbol(",")?;
                    }
                }
                AttributeValue::L(list)
            }
            Token::Symbol("<<") => {
                let mut members = Vec::new();
                if self.eat_symbol(">>") {
                    return set_of(members);
                }
                loop {
                    members.push(self.value()?);
                    if self.eat_symbol(">>") {
                        break;
                    }
                    self.symbol(",")?;
                }
                set_of(members)?
            }
            _ => return Err(syntax("expected a value")),
        })
    }

    fn or(&mut self) -> StoreResult<Condition> {
        self.deeper()?;
        let mut parts = vec![self.and()?];
        while self.eat_keyword("OR") {
            parts.push(self.and()?);
        }
        self.depth -= 1;
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Condition::Or(parts)
        })
    }

    fn and(&mut self) -> StoreResult<Condition> {
        let mut parts = vec![self.not()?];
        while self.eat_keyword("AND") {
            parts.push(self.not()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Condition::And(parts)
        })
    }

    fn not(&mut self) -> StoreResult<Condition> {
        if self.eat_keyword("NOT") {
            self.deeper()?;
            let inner = self.not()?;
            self.depth -= 1;
            return Ok(Condition::Not(Box::new(inner)));
        }
        self.primary()
    }

    /// The name of the function called at the current token, if one is.
    fn function_name(&self) -> Option<String> {
        match (self.peek(), self.tokens.get(self.position + 1)) {
            (Some(Token::Word(name)), Some(Token::Symbol("("))) => Some(name.to_ascii_lowercase()),
            _ => None,
        }
    }

    /// The arguments of a call, from `(` to `)`: paths (bare or quoted names)
    /// and values.
    fn arguments(&mut self) -> StoreResult<Vec<Argument>> {
        self.symbol("(")?;
        let mut arguments = Vec::new();
        if self.eat_symbol(")") {
            return Ok(arguments);
        }
        loop {
            let is_path = match self.peek() {
                Some(Token::Word(word)) => !["true", "false", "null"]
                    .iter()
                    .any(|literal| word.eq_ignore_ascii_case(literal)),
                Some(Token::Quoted(_)) => true,
                _ => false,
            };
            arguments.push(if is_path {
                Argument::Path(self.path()?)
            } else {
                Argument::Value(self.value()?)
            });
            if self.eat_symbol(")") {
                return Ok(arguments);
            }
            self.symbol(",")?;
        }
    }

    /// A call of `function` that must have `count` arguments, a path first.
    fn path_call(&mut self, function: &str, count: usize) -> StoreResult<(Path, Vec<Argument>)> {
        self.position += 1;
        let mut arguments = self.arguments()?;
        if arguments.len() != count {
            return Err(operand_count(function, arguments.len()));
        }
        let Argument::Path(path) = arguments.remove(0) else {
            return Err(path_required(function));
        };
        Ok((path, arguments))
    }

    fn primary(&mut self) -> StoreResult<Condition> {
        if self.eat_symbol("(") {
            let inner = self.or()?;
            self.symbol(")")?;
            return Ok(inner);
        }
        let function = self.function_name();
        match function.as_deref() {
            Some(name @ ("attribute_exists" | "attribute_not_exists")) => {
                let (path, _) = self.path_call(name, 1)?;
                return Ok(if name == "attribute_exists" {
                    Condition::AttributeExists(path)
                } else {
                    Condition::AttributeNotExists(path)
                });
            }
            Some(name @ ("begins_with" | "contains")) => {
                let (path, mut rest) = self.path_call(name, 2)?;
                let operand = match rest.remove(0) {
                    Argument::Value(value) => Operand::Value(value),
                    Argument::Path(other) => Operand::Path(other),
                };
                return Ok(if name == "begins_with" {
                    Condition::BeginsWith(Operand::Path(path), operand)
                } else {
                    Condition::Contains(Operand::Path(path), operand)
                });
            }
            Some("attribute_type") => {
                let (path, mut rest) = self.path_call("attribute_type", 2)?;
                let type_name = match rest.remove(0) {
                    Argument::Value(AttributeValue::S(text)) => text,
                    Argument::Value(other) => {
                        return Err(StoreError::validation(format!(
                            "Incorrect operand type for operator or function; operator or function: attribute_type, operand type: {}",
                            other.attribute_type().name()
                        )))
                    }
                    Argument::Path(_) => {
                        return Err(StoreError::validation(
                            "Incorrect operand type for operator or function; operator or function: attribute_type, operand type: {NS,SS,L,BS,N,M,B,BOOL,NULL,S}",
                        ))
                    }
                };
                let attribute_type = AttributeType::from_name(&type_name).ok_or_else(|| {
                    StoreError::validation(format!(
                        "Invalid attribute type name found; type: {type_name}, valid types: {{B,NULL,SS,BOOL,L,BS,N,NS,S,M}}"
                    ))
                })?;
                return Ok(Condition::AttributeType(path, attribute_type));
            }
            Some(name @ ("set_add" | "set_delete" | "list_append" | "exists")) => {
                return Err(StoreError::validation(format!(
                    "Unrecognized function: {name}{}",
                    self.at(self.position)
                )));
            }
            _ => {}
        }
        let left = if function.as_deref() == Some("size") {
            let (path, _) = self.path_call("size", 1)?;
            Operand::Size(Box::new(Operand::Path(path)))
        } else {
            Operand::Path(self.path()?)
        };
        if let (Operand::Path(path), true) = (&left, self.is_keyword("IS")) {
            let path = path.clone();
            self.position += 1;
            let negated = self.eat_keyword("NOT");
            if self.eat_keyword("MISSING") {
                return Ok(if negated {
                    Condition::AttributeExists(path)
                } else {
                    Condition::AttributeNotExists(path)
                });
            }
            // DynamoDB keeps NULL and MISSING apart: `IS NULL` holds for an
            // attribute of type NULL only, not for one the item lacks, and
            // `IS NOT NULL` is its negation.
            if self.eat_keyword("NULL") {
                let is_null = Condition::AttributeType(path, AttributeType::Null);
                return Ok(if negated {
                    Condition::Not(Box::new(is_null))
                } else {
                    is_null
                });
            }
            return Err(syntax("expected MISSING or NULL"));
        }
        if self.eat_keyword("BETWEEN") {
            let low = self.value()?;
            self.keyword("AND")?;
            let high = self.value()?;
            return Ok(Condition::Between(
                left,
                Operand::Value(low),
                Operand::Value(high),
            ));
        }
        if self.eat_keyword("IN") {
            let AttributeValue::L(candidates) = self.value()? else {
                return Err(syntax("expected a list after IN"));
            };
            return Ok(Condition::In(
                left,
                candidates.into_iter().map(Operand::Value).collect(),
            ));
        }
        let comparator = match self.peek() {
            Some(Token::Symbol("=")) => Comparator::Equal,
            Some(Token::Symbol("<>")) | Some(Token::Symbol("!=")) => Comparator::NotEqual,
            Some(Token::Symbol("<")) => Comparator::Less,
            Some(Token::Symbol("<=")) => Comparator::LessOrEqual,
            Some(Token::Symbol(">")) => Comparator::Greater,
            Some(Token::Symbol(">=")) => Comparator::GreaterOrEqual,
            _ => return Err(syntax("expected a comparison")),
        };
        self.position += 1;
        let value = self.value()?;
        Ok(Condition::Compare(comparator, left, Operand::Value(value)))
    }
}

/// A set literal `<<...>>`: members of one scalar type, none repeated,
/// refused in the words DynamoDB uses for the same set on the wire.
fn set_of(members: Vec<AttributeValue>) -> StoreResult<AttributeValue> {
    if members.is_empty() {
        return Err(StoreError::validation("Empty bags are not supported"));
    }
    let n_members = members.len();
    let set = match members.first() {
        Some(AttributeValue::S(_)) => {
            let texts = all_of(members, |member| match member {
                AttributeValue::S(text) => Some(text),
                _ => None,
            })?;
            let set = AttributeValue::string_set(texts.clone());
            if matches!(&set, AttributeValue::SS(unique) if unique.len() != n_members) {
                return Err(wire::duplicate_strings(&texts));
            }
            set
        }
        Some(AttributeValue::N(_)) => {
            let set = AttributeValue::number_set(all_of(members, |member| match member {
                AttributeValue::N(number) => Some(number),
                _ => None,
            })?);
            if matches!(&set, AttributeValue::NS(unique) if unique.len() != n_members) {
                return Err(wire::duplicate_numbers());
            }
            set
        }
        Some(AttributeValue::B(_)) => {
            let binaries = all_of(members, |member| match member {
                AttributeValue::B(bytes) => Some(bytes),
                _ => None,
            })?;
            let set = AttributeValue::binary_set(binaries.clone());
            if matches!(&set, AttributeValue::BS(unique) if unique.len() != n_members) {
                let base64: Vec<String> = binaries
                    .iter()
                    .map(|bytes| base64::engine::general_purpose::STANDARD.encode(bytes))
                    .collect();
                return Err(wire::duplicate_binaries(&base64));
            }
            set
        }
        _ => return Err(mixed_set()),
    };
    Ok(set)
}

/// The members of a set literal as the first member's type, or DynamoDB's refusal
/// if any member is of another.
fn all_of<T>(
    members: Vec<AttributeValue>,
    take: impl Fn(AttributeValue) -> Option<T>,
) -> StoreResult<Vec<T>> {
    members
        .into_iter()
        .map(|member| take(member).ok_or_else(mixed_set))
        .collect()
}

fn mixed_set() -> StoreError {
    StoreError::validation(
        "Unsupported operation: a set must hold strings, numbers or binaries of one type",
    )
}

#[cfg(test)]
mod tests {
    use expect_test::{expect, Expect};
    use proptest::prelude::*;

    use super::*;

    fn check(text: &str, expect: Expect) {
        let parameters = [
            AttributeValue::S("p".into()),
            AttributeValue::N(Number::from(7)),
        ];
        let rendered = match parse(text, &parameters[..text.matches('?').count().min(2)]) {
            Ok(statement) => format!("{statement:?}"),
            Err(error) => format!("error: {}", error.message),
        };
        expect.assert_eq(&rendered);
    }

    #[test]
    fn statements() {
        check(
            r#"SELECT a, b.c[1] FROM "t"."i" WHERE pk = ? AND sk >= ? OR NOT x IS MISSING"#,
            expect![[
                r#"Select { table: "t", index: Some("i"), projection: Some([a, b.c[1]]), condition: Some((or (and (= pk {S: p}) (>= sk {N: 7})) (not (attribute_not_exists x)))), order: None }"#
            ]],
        );
        check(
            r#"INSERT INTO "t" VALUE {'pk': 'a', 'n': 1.5, 'l': [TRUE, NULL], 's': <<'x', 'y'>>, 'q': 'it''s'}"#,
            expect![[
                r#"Insert { table: "t", item: {"l": {L: [{BOOL: true}, {NULL: true}]}, "n": {N: 1.5}, "pk": {S: a}, "q": {S: it's}, "s": {SS: [x, y]}} }"#
            ]],
        );
        check(
            r#"UPDATE t SET a = 1, b = ?, c = c + 1, d = d -2 REMOVE c WHERE pk = 'a' AND begins_with(x, 'y')"#,
            expect![[
                r#"Update { table: "t", set: [(a, Value({N: 1})), (b, Value({S: p})), (c, Plus(Path(c), Value({N: 1}))), (d, Minus(Path(d), Value({N: 2})))], remove: [c], condition: (and (= pk {S: a}) (begins_with x {S: y})), returning: None }"#
            ]],
        );
        check(
            r#"DELETE FROM "t" WHERE pk = 'a' AND n IN [1, 2]"#,
            expect![[
                r#"Delete { table: "t", condition: (and (= pk {S: a}) (in n {N: 1} {N: 2})), returning: None }"#
            ]],
        );
        check(
            r#"SELECT * FROM t WHERE"#,
            expect![
                "error: Statement wasn't well formed, can't be processed: expected a table name"
            ],
        );
        check(
            r#"SELECT * FROM t WHERE a = ?"#,
            expect![[
                r#"Select { table: "t", index: None, projection: None, condition: Some((= a {S: p})), order: None }"#
            ]],
        );
        check(r#"DROP TABLE t"#, expect!["error: Statement wasn't well formed, can't be processed: Expected data manipulation"]);
    }

    #[test]
    fn functions() {
        check(
            r#"SELECT * FROM t WHERE pk = 'a' AND size(s) > 3 AND SIZE("l") BETWEEN 1 AND 2 AND size(m.x) IN [1]"#,
            expect![[
                r#"Select { table: "t", index: None, projection: None, condition: Some((and (= pk {S: a}) (> size(s) {N: 3}) (between size(l) {N: 1} {N: 2}) (in size(m.x) {N: 1}))), order: None }"#
            ]],
        );
        check(
            r#"SELECT * FROM t WHERE attribute_type(ss, 'SS') OR Attribute_Type("n", 'N')"#,
            expect![[
                r#"Select { table: "t", index: None, projection: None, condition: Some((or (attribute_type ss SS) (attribute_type n N))), order: None }"#
            ]],
        );
        check(
            r#"SELECT * FROM t WHERE size = 1 AND begins_with(a, 'x') AND contains(b, ?)"#,
            expect![[
                r#"Select { table: "t", index: None, projection: None, condition: Some((and (= size {N: 1}) (begins_with a {S: x}) (contains b {S: p}))), order: None }"#
            ]],
        );
        check(
            r#"SELECT * FROM t WHERE attribute_type(a, 'STRING')"#,
            expect!["error: Invalid attribute type name found; type: STRING, valid types: {B,NULL,SS,BOOL,L,BS,N,NS,S,M}"],
        );
        check(
            r#"SELECT * FROM t WHERE attribute_type(a, 1)"#,
            expect!["error: Incorrect operand type for operator or function; operator or function: attribute_type, operand type: N"],
        );
        check(
            r#"SELECT * FROM t WHERE attribute_exists('ss')"#,
            expect!["error: Operator or function requires a document path; operator or function: attribute_exists"],
        );
        check(
            r#"SELECT * FROM t WHERE attribute_exists()"#,
            expect!["error: Incorrect number of operands for operator or function; operator or function: attribute_exists, number of operands: 0"],
        );
        check(
            r#"SELECT * FROM t WHERE attribute_exists(ss, ns)"#,
            expect!["error: Incorrect number of operands for operator or function; operator or function: attribute_exists, number of operands: 2"],
        );
        check(
            r#"SELECT * FROM t WHERE size(a, b) = 1"#,
            expect!["error: Incorrect number of operands for operator or function; operator or function: size, number of operands: 2"],
        );
        check(
            r#"SELECT * FROM t WHERE size(?) = 1"#,
            expect![
                "error: Operator or function requires a document path; operator or function: size"
            ],
        );
        check(
            r#"SELECT * FROM t WHERE size(a) IS MISSING"#,
            expect![
                "error: Statement wasn't well formed, can't be processed: expected a comparison"
            ],
        );
    }

    #[test]
    fn is_null() {
        check(
            r#"SELECT * FROM t WHERE a IS NULL AND b.c IS NOT NULL AND d is null"#,
            expect![[
                r#"Select { table: "t", index: None, projection: None, condition: Some((and (attribute_type a NULL) (not (attribute_type b.c NULL)) (attribute_type d NULL))), order: None }"#
            ]],
        );
        check(
            r#"SELECT * FROM t WHERE a IS STRING"#,
            expect![
                "error: Statement wasn't well formed, can't be processed: expected MISSING or NULL"
            ],
        );
    }

    #[test]
    fn update_functions() {
        check(
            r#"UPDATE t SET l = list_append(l, [1]), ss = SET_ADD(ss, <<'x'>>), ns = set_delete(ns, <<1>>) WHERE pk = 'a'"#,
            expect![[
                r#"Update { table: "t", set: [(l, ListAppend(Path(l), Value({L: [{N: 1}]}))), (ss, SetAdd({SS: [x]})), (ns, SetDelete({NS: [1]}))], remove: [], condition: (= pk {S: a}), returning: None }"#
            ]],
        );
        check(
            r#"UPDATE t SET t = set_add(ss, <<'x'>>) WHERE pk = 'a'"#,
            expect![
                "error: The first argument to SET_ADD must equal the assignment value at 1:18:7"
            ],
        );
        check(
            r#"UPDATE t SET ss = set_add(ss, 'x') WHERE pk = 'a'"#,
            expect![
                "error: The second argument to SET_ADD must be a value with type SET at 1:27:2"
            ],
        );
        check(
            "UPDATE t\nSET ss = set_delete(ss) WHERE pk = 'a'",
            expect!["error: SET_DELETE must have exactly two arguments at 2:10:10"],
        );
        check(
            r#"UPDATE t SET ss = set_add(ss, <<>>) WHERE pk = 'a'"#,
            expect!["error: Empty bags are not supported"],
        );
        check(
            r#"UPDATE t SET ss = set_add(ss, <<'x', 'x'>>) WHERE pk = 'a'"#,
            expect!["error: One or more parameter values were invalid: Input collection [x, x] contains duplicates."],
        );
        check(
            r#"UPDATE t SET ns = set_add(ns, <<1, 2, 1.0>>) WHERE pk = 'a'"#,
            expect!["error: Input collection contains duplicates"],
        );
        check(
            r#"INSERT INTO t VALUE {'pk': 'a', 'ss': <<'x', 1>>}"#,
            expect!["error: Unsupported operation: a set must hold strings, numbers or binaries of one type"],
        );
        check(
            r#"INSERT INTO t VALUE {'pk': 'a', 'ns': <<1, 'x'>>}"#,
            expect!["error: Unsupported operation: a set must hold strings, numbers or binaries of one type"],
        );
        check(
            r#"INSERT INTO t VALUE {'pk': 'a', 'ns': <<1, 1>>}"#,
            expect!["error: Input collection contains duplicates"],
        );
        check(
            r#"INSERT INTO t VALUE {'pk': 'a', 'ns': <<1, 10, 1e1>>}"#,
            expect!["error: Input collection contains duplicates"],
        );
        check(
            r#"INSERT INTO t VALUE {'pk': 'a', 'ns': <<1, 10, 100>>}"#,
            expect![[r#"Insert { table: "t", item: {"ns": {NS: [1, 10, 100]}, "pk": {S: a}} }"#]],
        );
        // Binaries come only as parameters; the message lists them in base64.
        let binary = AttributeValue::B(vec![1, 2]);
        let error = parse(
            r#"INSERT INTO t VALUE {'pk': 'a', 'bs': <<?, ?>>}"#,
            &[binary.clone(), binary],
        )
        .expect_err("a binary set with a repeated member");
        expect!["One or more parameter values were invalid: Input collection [AQI=, AQI=]of type BS contains duplicates."]
            .assert_eq(&error.message);
        check(
            r#"SELECT * FROM t WHERE set_add(ss, <<'x'>>) = ss"#,
            expect!["error: Unrecognized function: set_add at 1:23:7"],
        );
        check(
            r#"SELECT * FROM "t" WHERE pk = 'a' AND EXISTS(ss)"#,
            expect!["error: Unrecognized function: exists at 1:38:6"],
        );
    }

    #[test]
    fn exists() {
        check(
            r#"EXISTS(SELECT * FROM "t" WHERE pk = ? AND n IS MISSING)"#,
            expect![[
                r#"Exists { table: "t", index: None, condition: Some((and (= pk {S: p}) (attribute_not_exists n))) }"#
            ]],
        );
        check(
            r#"exists ( SELECT * FROM t."i" WHERE pk = 'a' ) ;"#,
            expect![[r#"Exists { table: "t", index: Some("i"), condition: Some((= pk {S: a})) }"#]],
        );
        check(
            r#"EXISTS(DELETE FROM t WHERE pk = 'a')"#,
            expect!["error: Statement wasn't well formed, can't be processed: expected SELECT"],
        );
        check(
            r#"EXISTS(SELECT * FROM t WHERE pk = 'a'"#,
            expect!["error: Statement wasn't well formed, can't be processed: expected )"],
        );
    }

    proptest! {
        #[test]
        fn never_panics(text in ".{0,80}") {
            let _ = parse(&text, &[]);
        }
    }
}
