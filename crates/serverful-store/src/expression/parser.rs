//! The recursive-descent parser shared by all five expression kinds.
//!
//! Parsing happens in two steps, mirroring the order in which DynamoDB reports
//! problems: syntax errors stop the parse at once; semantic problems (reserved
//! words, undefined placeholders, wrong operand types, overlapping paths) are
//! recorded by category while the tree is built, and the highest-priority one is
//! reported at the end, so `a = :undefined AND status = b` complains about the
//! reserved word first, as DynamoDB does.

use std::collections::BTreeMap;

use super::ast::{
    Comparator, Condition, Operand, Path, PathElement, Projection, SetValue, UpdateAction,
    UpdateExpression, UpdateOperand,
};
use super::lexer::{tokenize, Token, TokenKind};
use super::{is_reserved_word, ExpressionKind};
use crate::error::{StoreError, StoreResult};
use crate::value::{AttributeType, AttributeValue, Item};

/// DynamoDB rejects expression strings longer than this many bytes.
pub(crate) const MAX_EXPRESSION_SIZE: usize = 4096;
/// DynamoDB rejects expressions with more operators and functions than this.
pub(crate) const MAX_OPERATORS: usize = 300;
/// The most values an IN list may hold.
pub(crate) const MAX_IN_OPERANDS: usize = 100;
/// How deep parentheses, NOT and function calls may nest. The limit keeps the
/// recursive parser, and the recursive evaluation of what it builds, within a
/// 2 MB stack even in unoptimized builds. DynamoDB itself accepts somewhat
/// deeper nesting (it only limits operators to 300); no realistic expression
/// comes near this.
pub(crate) const MAX_DEPTH: usize = 100;

const CONDITION_KEYWORDS: &[&str] = &["AND", "OR", "NOT", "BETWEEN", "IN"];
const UPDATE_KEYWORDS: &[&str] = &["SET", "REMOVE", "ADD", "DELETE"];

/// Kinds of semantic error, each reported at most once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Category {
    RedundantParentheses,
    UnknownFunction,
    MisusedFunction,
    Reserved,
    Section,
    UndefinedName,
    UndefinedValue,
    PathOverlap,
    PathConflict,
    UpdateOperandType,
    OperandCount,
    Distinct,
    Function,
    /// In conditions, DynamoDB reports undefined placeholders, operand counts,
    /// non-distinct operands and operand types per comparison: the first
    /// comparison with any of them decides, in that order within it.
    ConditionGroup,
}

/// The categories a comparison's own problems fall in, in the order DynamoDB
/// reports them within one comparison.
const CONDITION_GROUP: &[&[Category]] = &[
    &[Category::UndefinedName, Category::UndefinedValue],
    &[Category::OperandCount],
    &[Category::Distinct],
    &[Category::Function],
];

/// Which error DynamoDB reports first when an expression has several.
fn priority(kind: ExpressionKind) -> &'static [Category] {
    use Category::*;
    match kind {
        ExpressionKind::Update => &[
            Reserved,
            UnknownFunction,
            Section,
            UndefinedName,
            UndefinedValue,
            PathOverlap,
            PathConflict,
            UpdateOperandType,
            OperandCount,
            Function,
            RedundantParentheses,
            MisusedFunction,
            Distinct,
        ],
        _ => &[
            RedundantParentheses,
            UnknownFunction,
            MisusedFunction,
            Reserved,
            ConditionGroup,
            UndefinedName,
            UndefinedValue,
            OperandCount,
            Distinct,
            Function,
            PathOverlap,
            PathConflict,
            Section,
            UpdateOperandType,
        ],
    }
}

/// A condition-grammar node before functions and operands are told apart.
#[derive(Debug, Clone)]
enum Node {
    Path(Path),
    /// A value placeholder; `None` if it is not defined (already reported).
    Value(Option<AttributeValue>),
    Function {
        name: String,
        arguments: Vec<Node>,
    },
    Compare(Comparator, Box<Node>, Box<Node>),
    Between(Box<Node>, Box<Node>, Box<Node>),
    In(Box<Node>, Vec<Node>),
    And(Vec<Node>),
    Or(Vec<Node>),
    Not(Box<Node>),
    Parenthesized(Box<Node>, usize),
    /// A comparison or function condition already checked and converted.
    Leaf(Condition),
}

impl Node {
    /// The node with any parentheses around it removed.
    fn unwrapped(&self) -> &Node {
        match self {
            Node::Parenthesized(inner, _) => inner.unwrapped(),
            other => other,
        }
    }

    fn is_condition(&self) -> bool {
        matches!(
            self.unwrapped(),
            Node::Compare(..)
                | Node::Between(..)
                | Node::In(..)
                | Node::And(..)
                | Node::Or(..)
                | Node::Not(..)
                | Node::Leaf(..)
        )
    }

    /// The type an operand is known to have before looking at any item.
    fn static_type(&self) -> Option<AttributeType> {
        match self.unwrapped() {
            Node::Value(Some(value)) => Some(value.attribute_type()),
            Node::Function { name, .. } if name == "size" => Some(AttributeType::N),
            _ => None,
        }
    }
}

pub(crate) struct Parser<'s, 'a> {
    source: &'s str,
    tokens: Vec<Token>,
    position: usize,
    kind: ExpressionKind,
    names: &'a BTreeMap<String, String>,
    values: &'a Item,
    pub(crate) used_names: Vec<String>,
    pub(crate) used_values: Vec<String>,
    errors: Vec<(Category, String)>,
    /// The error of the first comparison that had one (see `ConditionGroup`).
    condition_group: Option<String>,
    depth: usize,
    operators: usize,
}

impl<'s, 'a> Parser<'s, 'a> {
    /// Checks the size limits and prepares to parse; fails on an empty or
    /// oversized expression.
    pub(crate) fn new(
        source: &'s str,
        kind: ExpressionKind,
        names: &'a BTreeMap<String, String>,
        values: &'a Item,
    ) -> StoreResult<Parser<'s, 'a>> {
        if source.len() > MAX_EXPRESSION_SIZE {
            return Err(kind.error(format!(
                "Expression size has exceeded the maximum allowed size; expression size: {}",
                source.len()
            )));
        }
        let tokens = tokenize(source);
        if tokens.len() == 1 {
            return Err(kind.error("The expression can not be empty;"));
        }
        Ok(Parser {
            source,
            tokens,
            position: 0,
            kind,
            names,
            values,
            used_names: Vec::new(),
            used_values: Vec::new(),
            errors: Vec::new(),
            condition_group: None,
            depth: 0,
            operators: 0,
        })
    }

    // ----- token helpers -----

    fn peek(&self) -> Token {
        self.tokens[self.position.min(self.tokens.len() - 1)]
    }

    fn peek_at(&self, offset: usize) -> Token {
        self.tokens[(self.position + offset).min(self.tokens.len() - 1)]
    }

    fn advance(&mut self) -> usize {
        let index = self.position;
        if self.position < self.tokens.len() - 1 {
            self.position += 1;
        }
        index
    }

    fn text(&self, token: Token) -> &'s str {
        &self.source[token.start..token.end]
    }

    fn at_keyword(&self, keyword: &str) -> bool {
        let token = self.peek();
        token.kind == TokenKind::Identifier && self.text(token).eq_ignore_ascii_case(keyword)
    }

    fn is_keyword(&self, token: Token, keywords: &[&str]) -> bool {
        token.kind == TokenKind::Identifier
            && keywords
                .iter()
                .any(|keyword| self.text(token).eq_ignore_ascii_case(keyword))
    }

    fn expect(&mut self, kind: TokenKind) -> StoreResult<usize> {
        if self.peek().kind == kind {
            Ok(self.advance())
        } else {
            Err(self.syntax_error(self.position))
        }
    }

    /// DynamoDB's syntax error: the offending token and the source from the
    /// token before it to the token after it.
    fn syntax_error(&self, at: usize) -> StoreError {
        let at = at.min(self.tokens.len() - 1);
        let token = self.tokens[at];
        let window_start = if at > 0 {
            self.tokens[at - 1].start
        } else {
            token.start
        };
        let window_end = match self.tokens.get(at + 1) {
            Some(next) if token.kind != TokenKind::End => next.end,
            // At the end, the window stops after the last real token rather
            // than including trailing whitespace.
            _ if token.kind == TokenKind::End && at > 0 => self.tokens[at - 1].end,
            _ => token.end,
        };
        let near = &self.source[window_start..window_end];
        let shown = if token.kind == TokenKind::End {
            "<EOF>".to_owned()
        } else {
            format!("\"{}\"", self.text(token))
        };
        self.kind
            .error(format!("Syntax error; token: {shown}, near: \"{near}\""))
    }

    fn record(&mut self, category: Category, message: String) {
        if !self
            .errors
            .iter()
            .any(|(recorded, _)| *recorded == category)
        {
            self.errors.push((category, message));
        }
    }

    fn enter(&mut self) -> StoreResult<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.kind.error(format!(
                "The expression is nested too deeply; maximum nesting depth: {MAX_DEPTH}"
            )));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    fn expect_end(&self) -> StoreResult<()> {
        if self.peek().kind == TokenKind::End {
            Ok(())
        } else {
            Err(self.syntax_error(self.position))
        }
    }

    /// Reports the operator limit, then the most important recorded error.
    pub(crate) fn finish(&self) -> StoreResult<()> {
        if self.operators > MAX_OPERATORS {
            return Err(self.kind.error(format!(
                "The expression contains too many operators; operator count: {}",
                self.operators
            )));
        }
        for category in priority(self.kind) {
            if *category == Category::ConditionGroup {
                if let Some(message) = &self.condition_group {
                    return Err(self.kind.error(message));
                }
                continue;
            }
            if let Some((_, message)) = self
                .errors
                .iter()
                .find(|(recorded, _)| recorded == category)
            {
                return Err(self.kind.error(message.clone()));
            }
        }
        Ok(())
    }

    // ----- paths and placeholders -----

    fn parse_path(&mut self, keywords: &[&str]) -> StoreResult<Path> {
        let mut elements = vec![self.parse_name_element(keywords)?];
        loop {
            match self.peek().kind {
                TokenKind::Dot => {
                    self.advance();
                    elements.push(self.parse_name_element(keywords)?);
                }
                TokenKind::LeftBracket => {
                    self.advance();
                    let index_token = self.expect(TokenKind::Integer)?;
                    let index = self
                        .text(self.tokens[index_token])
                        .parse::<usize>()
                        .map_err(|_| self.syntax_error(index_token))?;
                    self.expect(TokenKind::RightBracket)?;
                    elements.push(PathElement::Index(index));
                }
                _ => return Ok(Path { elements }),
            }
        }
    }

    fn parse_name_element(&mut self, keywords: &[&str]) -> StoreResult<PathElement> {
        let token = self.peek();
        match token.kind {
            TokenKind::Identifier if !self.is_keyword(token, keywords) => {
                self.advance();
                let name = self.text(token);
                if is_reserved_word(name) {
                    self.record(
                        Category::Reserved,
                        format!("Attribute name is a reserved keyword; reserved keyword: {name}"),
                    );
                }
                Ok(PathElement::Name(name.to_owned()))
            }
            TokenKind::NamePlaceholder => {
                self.advance();
                let placeholder = self.text(token);
                match self.names.get(placeholder) {
                    Some(name) => {
                        self.used_names.push(placeholder.to_owned());
                        Ok(PathElement::Name(name.clone()))
                    }
                    None => {
                        self.record(
                            Category::UndefinedName,
                            format!(
                                "An expression attribute name used in the document path is not defined; attribute name: {placeholder}"
                            ),
                        );
                        Ok(PathElement::Name(placeholder.to_owned()))
                    }
                }
            }
            _ => Err(self.syntax_error(self.position)),
        }
    }

    /// Resolves the `:value` token at the current position.
    fn parse_value(&mut self) -> StoreResult<Option<AttributeValue>> {
        let index = self.expect(TokenKind::ValuePlaceholder)?;
        let placeholder = self.text(self.tokens[index]);
        match self.values.get(placeholder) {
            Some(value) => {
                self.used_values.push(placeholder.to_owned());
                Ok(Some(value.clone()))
            }
            None => {
                self.record(
                    Category::UndefinedValue,
                    format!(
                        "An expression attribute value used in expression is not defined; attribute value: {placeholder}"
                    ),
                );
                Ok(None)
            }
        }
    }

    /// Records overlap or conflict between any two of `paths`, as DynamoDB
    /// checks projections and update targets.
    fn check_paths_disjoint(&mut self, paths: &[&Path]) {
        for (later_index, later) in paths.iter().enumerate() {
            for earlier in &paths[..later_index] {
                let mut relation = Some(Category::PathOverlap);
                for (a, b) in earlier.elements.iter().zip(&later.elements) {
                    match (a, b) {
                        (PathElement::Name(x), PathElement::Name(y)) if x == y => {}
                        (PathElement::Index(x), PathElement::Index(y)) if x == y => {}
                        (PathElement::Name(_), PathElement::Name(_))
                        | (PathElement::Index(_), PathElement::Index(_)) => {
                            relation = None;
                            break;
                        }
                        _ => {
                            relation = Some(Category::PathConflict);
                            break;
                        }
                    }
                }
                let (one, two) = (earlier.bracketed(), later.bracketed());
                match relation {
                    Some(Category::PathOverlap) => self.record(
                        Category::PathOverlap,
                        format!("Two document paths overlap with each other; must remove or rewrite one of these paths; path one: {one}, path two: {two}"),
                    ),
                    Some(_) => self.record(
                        Category::PathConflict,
                        format!("Two document paths conflict with each other; must remove or rewrite one of these paths; path one: {one}, path two: {two}"),
                    ),
                    None => {}
                }
            }
        }
    }

    // ----- ProjectionExpression -----

    pub(crate) fn parse_projection(&mut self) -> StoreResult<Projection> {
        let mut paths = vec![self.parse_path(&[])?];
        while self.peek().kind == TokenKind::Comma {
            self.advance();
            paths.push(self.parse_path(&[])?);
        }
        self.expect_end()?;
        let borrowed: Vec<&Path> = paths.iter().collect();
        self.check_paths_disjoint(&borrowed);
        Ok(Projection { paths })
    }

    // ----- ConditionExpression, FilterExpression, KeyConditionExpression -----

    pub(crate) fn parse_condition(&mut self) -> StoreResult<Condition> {
        let node = self.parse_or()?;
        self.expect_end()?;
        self.condition_from(node)
    }

    /// AND, OR and NOT need conditions (or function calls) as operands; a bare
    /// operand only gets this far when it sits alone in parentheses.
    fn require_condition(&self, node: &Node) -> StoreResult<()> {
        if node.is_condition() || matches!(node.unwrapped(), Node::Function { .. }) {
            Ok(())
        } else {
            Err(self.syntax_error(self.position))
        }
    }

    /// `a OR b OR c` and `a AND b` chains become one flat node each, so long
    /// chains cost no recursion when they are converted or evaluated.
    fn parse_or(&mut self) -> StoreResult<Node> {
        let mut disjuncts = vec![self.parse_and()?];
        while self.at_keyword("OR") {
            self.advance();
            self.operators += 1;
            disjuncts.push(self.parse_and()?);
        }
        if disjuncts.len() == 1 {
            return Ok(disjuncts.pop().expect("one element checked above"));
        }
        for disjunct in &disjuncts {
            self.require_condition(disjunct)?;
        }
        Ok(Node::Or(disjuncts))
    }

    fn parse_and(&mut self) -> StoreResult<Node> {
        let mut conjuncts = vec![self.parse_not()?];
        while self.at_keyword("AND") {
            self.require_condition(conjuncts.last().expect("never empty"))?;
            self.advance();
            self.operators += 1;
            conjuncts.push(self.parse_not()?);
        }
        if conjuncts.len() == 1 {
            return Ok(conjuncts.pop().expect("one element checked above"));
        }
        for conjunct in &conjuncts {
            self.require_condition(conjunct)?;
        }
        Ok(Node::And(conjuncts))
    }

    fn parse_not(&mut self) -> StoreResult<Node> {
        if !self.at_keyword("NOT") {
            return self.parse_comparison();
        }
        self.advance();
        self.operators += 1;
        self.enter()?;
        let inner = self.parse_not()?;
        self.require_condition(&inner)?;
        self.leave();
        Ok(Node::Not(Box::new(inner)))
    }

    /// Parses one comparison (or standalone function call) and, when it is
    /// certainly a condition, checks and converts it at once so that its
    /// problems are attributed to it (see `ConditionGroup`).
    fn parse_comparison(&mut self) -> StoreResult<Node> {
        let node = self.parse_comparison_node()?;
        let is_leaf = match &node {
            Node::Compare(..) | Node::Between(..) | Node::In(..) => true,
            // A function call right before `)` may still turn out to be an
            // operand, as in `(size(a)) > :v`; it is converted later.
            Node::Function { .. } => self.peek().kind != TokenKind::RightParen,
            _ => false,
        };
        if !is_leaf {
            return Ok(node);
        }
        let condition = self.condition_from(node)?;
        self.close_condition_group();
        Ok(Node::Leaf(condition))
    }

    fn close_condition_group(&mut self) {
        if self.condition_group.is_some() {
            return;
        }
        for categories in CONDITION_GROUP {
            let first = self
                .errors
                .iter()
                .find(|(recorded, _)| categories.contains(recorded));
            if let Some((_, message)) = first {
                self.condition_group = Some(message.clone());
                return;
            }
        }
    }

    fn parse_comparison_node(&mut self) -> StoreResult<Node> {
        let left = self.parse_atom()?;
        if left.is_condition() {
            // `(a = b) = c` is a syntax error at the second `=`.
            return Ok(left);
        }
        let comparator = match self.peek().kind {
            TokenKind::Equal => Some(Comparator::Equal),
            TokenKind::NotEqual => Some(Comparator::NotEqual),
            TokenKind::Less => Some(Comparator::Less),
            TokenKind::LessOrEqual => Some(Comparator::LessOrEqual),
            TokenKind::Greater => Some(Comparator::Greater),
            TokenKind::GreaterOrEqual => Some(Comparator::GreaterOrEqual),
            _ => None,
        };
        if let Some(comparator) = comparator {
            self.advance();
            self.operators += 1;
            let right = self.parse_atom()?;
            return Ok(Node::Compare(comparator, Box::new(left), Box::new(right)));
        }
        if self.at_keyword("BETWEEN") {
            self.advance();
            self.operators += 1;
            let low = self.parse_atom()?;
            if !self.at_keyword("AND") {
                return Err(self.syntax_error(self.position));
            }
            self.advance();
            let high = self.parse_atom()?;
            return Ok(Node::Between(Box::new(left), Box::new(low), Box::new(high)));
        }
        if self.at_keyword("IN") {
            self.advance();
            self.operators += 1;
            self.expect(TokenKind::LeftParen)?;
            let mut candidates = vec![self.parse_atom()?];
            while self.peek().kind == TokenKind::Comma {
                self.advance();
                candidates.push(self.parse_atom()?);
            }
            self.expect(TokenKind::RightParen)?;
            return Ok(Node::In(Box::new(left), candidates));
        }
        // A parenthesized condition or a function call stands alone; a bare
        // operand must be compared with something, unless it is itself in
        // parentheses, as in `(a) = :v`: the caller checks that case.
        if left.is_condition()
            || matches!(left.unwrapped(), Node::Function { .. })
            || self.peek().kind == TokenKind::RightParen
        {
            Ok(left)
        } else {
            Err(self.syntax_error(self.position))
        }
    }

    fn parse_atom(&mut self) -> StoreResult<Node> {
        let token = self.peek();
        match token.kind {
            TokenKind::LeftParen => {
                let open = self.advance();
                self.enter()?;
                let inner = self.parse_or()?;
                self.expect(TokenKind::RightParen)?;
                self.leave();
                if matches!(inner, Node::Parenthesized(..)) {
                    self.record(
                        Category::RedundantParentheses,
                        "The expression has redundant parentheses;".to_owned(),
                    );
                }
                Ok(Node::Parenthesized(Box::new(inner), open))
            }
            TokenKind::Identifier
                if self.peek_at(1).kind == TokenKind::LeftParen
                    && !self.is_keyword(token, CONDITION_KEYWORDS) =>
            {
                self.advance();
                self.advance();
                self.operators += 1;
                self.enter()?;
                let mut arguments = vec![self.parse_atom()?];
                while self.peek().kind == TokenKind::Comma {
                    self.advance();
                    arguments.push(self.parse_atom()?);
                }
                self.expect(TokenKind::RightParen)?;
                self.leave();
                Ok(Node::Function {
                    name: self.text(token).to_owned(),
                    arguments,
                })
            }
            TokenKind::Identifier | TokenKind::NamePlaceholder => {
                Ok(Node::Path(self.parse_path(CONDITION_KEYWORDS)?))
            }
            TokenKind::ValuePlaceholder => Ok(Node::Value(self.parse_value()?)),
            _ => Err(self.syntax_error(self.position)),
        }
    }

    fn check_misused_functions(&mut self, operands: &[&Node]) {
        for operand in operands {
            if let Node::Function { name, .. } = operand.unwrapped() {
                if name != "size" {
                    let message = format!(
                        "The function is not allowed to be used this way in an expression; function: {name}"
                    );
                    self.record(Category::MisusedFunction, message);
                }
            }
        }
    }

    fn check_distinct(&mut self, operator: &str, first: &Node, second: &Node) {
        if let (Node::Path(a), Node::Path(b)) = (first.unwrapped(), second.unwrapped()) {
            if a == b {
                self.record(
                    Category::Distinct,
                    format!(
                        "The first operand must be distinct from the remaining operands for this operator or function; operator: {operator}, first operand: {}",
                        a.bracketed()
                    ),
                );
            }
        }
    }

    fn incorrect_operand_type(&mut self, function: &str, operand_type: &str) {
        self.record(
            Category::Function,
            format!(
                "Incorrect operand type for operator or function; operator or function: {function}, operand type: {operand_type}"
            ),
        );
    }

    fn condition_from(&mut self, node: Node) -> StoreResult<Condition> {
        Ok(match node {
            Node::Compare(comparator, left, right) => {
                self.check_misused_functions(&[&left, &right]);
                self.check_distinct(comparator.symbol(), &left, &right);
                Condition::Compare(
                    comparator,
                    self.operand_from(*left)?,
                    self.operand_from(*right)?,
                )
            }
            Node::Between(operand, low, high) => {
                self.check_misused_functions(&[&operand, &low, &high]);
                self.check_between_bounds(&low, &high);
                Condition::Between(
                    self.operand_from(*operand)?,
                    self.operand_from(*low)?,
                    self.operand_from(*high)?,
                )
            }
            Node::In(operand, candidates) => {
                let mut all: Vec<&Node> = vec![&operand];
                all.extend(candidates.iter());
                self.check_misused_functions(&all);
                if candidates.len() > MAX_IN_OPERANDS {
                    self.record(
                        Category::Function,
                        format!(
                            "The IN operator is provided with too many operands; number of operands: {}",
                            candidates.len()
                        ),
                    );
                }
                let operand = self.operand_from(*operand)?;
                let candidates = candidates
                    .into_iter()
                    .map(|candidate| self.operand_from(candidate))
                    .collect::<StoreResult<Vec<_>>>()?;
                Condition::In(operand, candidates)
            }
            Node::And(conjuncts) => Condition::And(
                conjuncts
                    .into_iter()
                    .map(|node| self.condition_from(node))
                    .collect::<StoreResult<_>>()?,
            ),
            Node::Or(disjuncts) => Condition::Or(
                disjuncts
                    .into_iter()
                    .map(|node| self.condition_from(node))
                    .collect::<StoreResult<_>>()?,
            ),
            Node::Not(a) => Condition::Not(Box::new(self.condition_from(*a)?)),
            Node::Parenthesized(inner, _) => self.condition_from(*inner)?,
            Node::Leaf(condition) => condition,
            Node::Function { name, arguments } => self.function_condition(name, arguments)?,
            // The parser only lets operands stand alone inside a comparison.
            Node::Path(_) | Node::Value(_) => return Err(self.syntax_error(self.position)),
        })
    }

    fn check_between_bounds(&mut self, low: &Node, high: &Node) {
        let (Node::Value(Some(low)), Node::Value(Some(high))) = (low.unwrapped(), high.unwrapped())
        else {
            return;
        };
        let describe = |value: &AttributeValue| match value {
            AttributeValue::S(text) => format!("{{S:{text}}}"),
            AttributeValue::N(number) => format!("{{N:{number}}}"),
            other => format!("{other:?}"),
        };
        let bounds = format!(
            "lower bound operand: AttributeValue: {}, upper bound operand: AttributeValue: {}",
            describe(low),
            describe(high)
        );
        if low.attribute_type() != high.attribute_type() {
            self.record(
                Category::Function,
                format!("The BETWEEN operator requires same data type for lower and upper bounds; {bounds}"),
            );
        } else if crate::eval::compare_values(low, high) == Some(std::cmp::Ordering::Greater) {
            self.record(
                Category::Function,
                format!("The BETWEEN operator requires upper bound to be greater than or equal to lower bound; {bounds}"),
            );
        }
    }

    fn function_condition(&mut self, name: String, arguments: Vec<Node>) -> StoreResult<Condition> {
        let expected = match name.as_str() {
            "attribute_exists" | "attribute_not_exists" => 1,
            "attribute_type" | "begins_with" | "contains" => 2,
            "size" => {
                self.record(
                    Category::MisusedFunction,
                    "The function is not allowed to be used this way in an expression; function: size".to_owned(),
                );
                return Ok(placeholder_condition());
            }
            _ => {
                self.record(
                    Category::UnknownFunction,
                    format!("Invalid function name; function: {name}"),
                );
                return Ok(placeholder_condition());
            }
        };
        let borrowed: Vec<&Node> = arguments.iter().collect();
        self.check_misused_functions(&borrowed);
        // Arguments are checked before the function itself, so a nested
        // function's problem is reported first, as DynamoDB does.
        let mut operands = arguments
            .iter()
            .cloned()
            .map(|argument| self.operand_from(argument))
            .collect::<StoreResult<Vec<Operand>>>()?
            .into_iter();
        if arguments.len() != expected {
            self.record(
                Category::OperandCount,
                format!(
                    "Incorrect number of operands for operator or function; operator or function: {name}, number of operands: {}",
                    arguments.len()
                ),
            );
            return Ok(placeholder_condition());
        }
        if expected == 2 {
            self.check_distinct(&name, &arguments[0], &arguments[1]);
        }
        let mut arguments = arguments.into_iter();
        let first = arguments.next().expect("argument count checked above");
        let second = arguments.next();
        let requires_path = |parser: &mut Self, node: &Node| -> Option<Path> {
            match node.unwrapped() {
                Node::Path(path) => Some(path.clone()),
                _ => {
                    parser.record(
                        Category::Function,
                        format!("Operator or function requires a document path; operator or function: {name}"),
                    );
                    None
                }
            }
        };
        let (first_operand, second_operand) = (operands.next(), operands.next());
        Ok(match (name.as_str(), second) {
            ("attribute_exists", _) => match requires_path(self, &first) {
                Some(path) => Condition::AttributeExists(path),
                None => placeholder_condition(),
            },
            ("attribute_not_exists", _) => match requires_path(self, &first) {
                Some(path) => Condition::AttributeNotExists(path),
                None => placeholder_condition(),
            },
            ("attribute_type", Some(second)) => {
                let path = requires_path(self, &first);
                let type_name = match second.unwrapped() {
                    Node::Value(Some(AttributeValue::S(text))) => Some(text.clone()),
                    Node::Value(Some(other)) => {
                        self.incorrect_operand_type(
                            "attribute_type",
                            other.attribute_type().name(),
                        );
                        None
                    }
                    Node::Value(None) => None,
                    other if other.static_type().is_some() => {
                        let found = other.static_type().map_or("", AttributeType::name);
                        self.incorrect_operand_type("attribute_type", found);
                        None
                    }
                    _ => {
                        self.incorrect_operand_type(
                            "attribute_type",
                            "{NS,SS,L,BS,N,M,B,BOOL,NULL,S}",
                        );
                        None
                    }
                };
                let attribute_type = type_name.and_then(|text| {
                    let parsed = AttributeType::from_name(&text);
                    if parsed.is_none() {
                        self.record(
                            Category::Function,
                            format!("Invalid attribute type name found; type: {text}, valid types: {{B,NULL,SS,BOOL,L,BS,N,NS,S,M}}"),
                        );
                    }
                    parsed
                });
                match (path, attribute_type) {
                    (Some(path), Some(attribute_type)) => {
                        Condition::AttributeType(path, attribute_type)
                    }
                    _ => placeholder_condition(),
                }
            }
            ("begins_with", Some(second)) => {
                for argument in [&first, &second] {
                    if let Some(found) = argument.static_type() {
                        if found != AttributeType::S && found != AttributeType::B {
                            self.incorrect_operand_type("begins_with", found.name());
                        }
                    }
                }
                match (first_operand, second_operand) {
                    (Some(a), Some(b)) => Condition::BeginsWith(a, b),
                    _ => placeholder_condition(),
                }
            }
            ("contains", Some(_)) => match (first_operand, second_operand) {
                (Some(a), Some(b)) => Condition::Contains(a, b),
                _ => placeholder_condition(),
            },
            _ => placeholder_condition(),
        })
    }

    fn operand_from(&mut self, node: Node) -> StoreResult<Operand> {
        Ok(match node {
            Node::Path(path) => Operand::Path(path),
            Node::Value(value) => Operand::Value(value.unwrap_or(AttributeValue::Null)),
            Node::Parenthesized(inner, open) => {
                if inner.is_condition() {
                    return Err(self.syntax_error(open));
                }
                self.operand_from(*inner)?
            }
            Node::Function {
                name, arguments, ..
            } => {
                match name.as_str() {
                    "size" => {}
                    "attribute_exists"
                    | "attribute_not_exists"
                    | "attribute_type"
                    | "begins_with"
                    | "contains" => {
                        // Reported by check_misused_functions.
                        return Ok(placeholder_operand());
                    }
                    _ => {
                        self.record(
                            Category::UnknownFunction,
                            format!("Invalid function name; function: {name}"),
                        );
                        return Ok(placeholder_operand());
                    }
                }
                let borrowed: Vec<&Node> = arguments.iter().collect();
                self.check_misused_functions(&borrowed);
                if arguments.len() != 1 {
                    self.record(
                        Category::OperandCount,
                        format!(
                            "Incorrect number of operands for operator or function; operator or function: size, number of operands: {}",
                            arguments.len()
                        ),
                    );
                    return Ok(placeholder_operand());
                }
                let argument = arguments
                    .into_iter()
                    .next()
                    .expect("one argument checked above");
                if let Some(found) = argument.static_type() {
                    if matches!(
                        found,
                        AttributeType::N | AttributeType::Bool | AttributeType::Null
                    ) {
                        self.incorrect_operand_type("size", found.name());
                    }
                }
                Operand::Size(Box::new(self.operand_from(argument)?))
            }
            // Conditions only reach operand position inside parentheses,
            // handled above.
            _ => return Err(self.syntax_error(self.position)),
        })
    }

    // ----- UpdateExpression -----

    pub(crate) fn parse_update(&mut self) -> StoreResult<UpdateExpression> {
        let mut actions = Vec::new();
        let mut seen_sections: Vec<&'static str> = Vec::new();
        while self.peek().kind != TokenKind::End {
            let token = self.peek();
            let section = UPDATE_KEYWORDS
                .iter()
                .copied()
                .find(|keyword| self.is_keyword(token, &[keyword]))
                .ok_or_else(|| self.syntax_error(self.position))?;
            self.advance();
            if seen_sections.contains(&section) {
                self.record(
                    Category::Section,
                    format!(
                        "The \"{section}\" section can only be used once in an update expression;"
                    ),
                );
            }
            seen_sections.push(section);
            loop {
                actions.push(self.parse_update_action(section)?);
                if self.peek().kind != TokenKind::Comma {
                    break;
                }
                self.advance();
            }
        }
        let paths: Vec<&Path> = actions.iter().map(UpdateAction::path).collect();
        self.check_paths_disjoint(&paths);
        Ok(UpdateExpression { actions })
    }

    fn parse_update_action(&mut self, section: &str) -> StoreResult<UpdateAction> {
        let path = self.parse_path(UPDATE_KEYWORDS)?;
        match section {
            "SET" => {
                self.expect(TokenKind::Equal)?;
                let value = self.parse_set_value()?;
                Ok(UpdateAction::Set(path, value))
            }
            "REMOVE" => Ok(UpdateAction::Remove(path)),
            _ => {
                let value = self.parse_value()?;
                let Some(value) = value else {
                    // The undefined placeholder is already recorded and will
                    // fail the parse; any action can stand in.
                    return Ok(UpdateAction::Remove(path));
                };
                let allowed = match section {
                    "ADD" => matches!(
                        value,
                        AttributeValue::N(_)
                            | AttributeValue::SS(_)
                            | AttributeValue::NS(_)
                            | AttributeValue::BS(_)
                    ),
                    _ => matches!(
                        value,
                        AttributeValue::SS(_) | AttributeValue::NS(_) | AttributeValue::BS(_)
                    ),
                };
                if !allowed {
                    let shown = match value.attribute_type() {
                        AttributeType::S => "STRING",
                        AttributeType::N => "NUMBER",
                        AttributeType::B => "BINARY",
                        AttributeType::Null => "NULL",
                        AttributeType::Bool => "BOOLEAN",
                        AttributeType::L => "LIST",
                        AttributeType::M => "MAP",
                        other => other.name(),
                    };
                    self.record(
                        Category::UpdateOperandType,
                        format!("Incorrect operand type for operator or function; operator: {section}, operand type: {shown}"),
                    );
                }
                Ok(if section == "ADD" {
                    UpdateAction::Add(path, value)
                } else {
                    UpdateAction::Delete(path, value)
                })
            }
        }
    }

    /// The right side of `SET path = ...`: `operand`, `operand + operand` or
    /// `operand - operand`, optionally in one pair of parentheses; each operand
    /// may also sit in its own parentheses, as in `((a[1]) + (b))`.
    fn parse_set_value(&mut self) -> StoreResult<SetValue> {
        if self.peek().kind != TokenKind::LeftParen {
            return self.parse_arithmetic();
        }
        self.advance();
        let inner = self.parse_arithmetic()?;
        self.expect(TokenKind::RightParen)?;
        match inner {
            // `(a) + b`: the parentheses held only the first operand.
            SetValue::Operand(first)
                if matches!(self.peek().kind, TokenKind::Plus | TokenKind::Minus) =>
            {
                self.finish_arithmetic(first)
            }
            other => Ok(other),
        }
    }

    fn parse_arithmetic(&mut self) -> StoreResult<SetValue> {
        let left = self.parse_parenthesized_update_operand()?;
        self.finish_arithmetic(left)
    }

    fn finish_arithmetic(&mut self, left: UpdateOperand) -> StoreResult<SetValue> {
        let symbol = match self.peek().kind {
            TokenKind::Plus => "+",
            TokenKind::Minus => "-",
            _ => return Ok(SetValue::Operand(left)),
        };
        self.advance();
        self.operators += 1;
        let right = self.parse_parenthesized_update_operand()?;
        for operand in [&left, &right] {
            if let UpdateOperand::Value(value) = operand {
                if !matches!(value, AttributeValue::N(_)) {
                    self.incorrect_operand_type(symbol, value.attribute_type().name());
                }
            }
        }
        Ok(if symbol == "+" {
            SetValue::Plus(left, right)
        } else {
            SetValue::Minus(left, right)
        })
    }

    /// An update operand, optionally in one pair of parentheses.
    fn parse_parenthesized_update_operand(&mut self) -> StoreResult<UpdateOperand> {
        if self.peek().kind != TokenKind::LeftParen {
            return self.parse_update_operand();
        }
        self.advance();
        let operand = self.parse_update_operand()?;
        self.expect(TokenKind::RightParen)?;
        Ok(operand)
    }

    fn parse_update_operand(&mut self) -> StoreResult<UpdateOperand> {
        let token = self.peek();
        match token.kind {
            TokenKind::Identifier
                if self.peek_at(1).kind == TokenKind::LeftParen
                    && !self.is_keyword(token, UPDATE_KEYWORDS) =>
            {
                self.advance();
                self.advance();
                self.operators += 1;
                self.enter()?;
                let mut arguments = vec![self.parse_parenthesized_update_operand()?];
                while self.peek().kind == TokenKind::Comma {
                    self.advance();
                    arguments.push(self.parse_parenthesized_update_operand()?);
                }
                self.expect(TokenKind::RightParen)?;
                self.leave();
                Ok(self.update_function(self.text(token), arguments))
            }
            TokenKind::Identifier | TokenKind::NamePlaceholder => {
                Ok(UpdateOperand::Path(self.parse_path(UPDATE_KEYWORDS)?))
            }
            TokenKind::ValuePlaceholder => Ok(UpdateOperand::Value(
                self.parse_value()?.unwrap_or(AttributeValue::Null),
            )),
            _ => Err(self.syntax_error(self.position)),
        }
    }

    fn update_function(&mut self, name: &str, arguments: Vec<UpdateOperand>) -> UpdateOperand {
        if name != "if_not_exists" && name != "list_append" {
            self.record(
                Category::UnknownFunction,
                format!("Invalid function name; function: {name}"),
            );
            return UpdateOperand::Value(AttributeValue::Null);
        }
        if arguments.len() != 2 {
            self.record(
                Category::OperandCount,
                format!(
                    "Incorrect number of operands for operator or function; operator or function: {name}, number of operands: {}",
                    arguments.len()
                ),
            );
            return UpdateOperand::Value(AttributeValue::Null);
        }
        let mut arguments = arguments.into_iter();
        let first = arguments.next().expect("two arguments checked above");
        let second = arguments.next().expect("two arguments checked above");
        if name == "if_not_exists" {
            return match first {
                UpdateOperand::Path(path) => UpdateOperand::IfNotExists(path, Box::new(second)),
                _ => {
                    self.record(
                        Category::Function,
                        "Operator or function requires a document path; operator or function: if_not_exists"
                            .to_owned(),
                    );
                    UpdateOperand::Value(AttributeValue::Null)
                }
            };
        }
        for operand in [&first, &second] {
            if let UpdateOperand::Value(value) = operand {
                if !matches!(value, AttributeValue::L(_)) {
                    self.incorrect_operand_type("list_append", value.attribute_type().name());
                }
            }
        }
        UpdateOperand::ListAppend(Box::new(first), Box::new(second))
    }
}

/// Stands in for a condition whose error is already recorded; never evaluated,
/// because a recorded error fails the parse.
fn placeholder_condition() -> Condition {
    Condition::AttributeExists(Path::attribute(""))
}

/// Stands in for an operand whose error is already recorded.
fn placeholder_operand() -> Operand {
    Operand::Value(AttributeValue::Null)
}
