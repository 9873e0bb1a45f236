//! Applying an [`UpdateExpr`] to an item (UpdateItem). Rules (Developer Guide
//! `Expressions.UpdateExpressions`; dynalite `actions/updateItem.js`; dynamodb-facts §2.10):
//!
//! * Every action sees the item as it was **before** the update: all SET right-hand sides are
//!   evaluated first, against the original item.
//! * SET: a path operand that does not exist is "The provided expression refers to an attribute
//!   that does not exist in the item"; `+`/`-` need two numbers and `list_append` two lists,
//!   else "An operand in the update expression has an incorrect data type"; sums are exact
//!   (`Number::checked_add`). Setting a list index at or past the end appends; several appends to
//!   one list land in index order.
//! * REMOVE: a missing attribute or list index is a no-op; list elements after a removed one
//!   shift down. Indexes in one expression all refer to the original list.
//! * ADD: number + number, or set ∪ set of the same type; creates the attribute when absent.
//! * DELETE: set − set of the same type; a set left empty is removed; absent is a no-op.
//! * Legacy `AttributeUpdates` (`UpdateAction::LegacyAdd` / `LegacyDelete`): the same, except
//!   that ADD also appends a list to a list, and a type mismatch is "Type mismatch for attribute
//!   to update".
//! * Any path whose parent does not exist or is not a map (for `.name`) / list (for `[i]`) is
//!   "The document path provided in the update expression is invalid for update".
//!
//! Order inside: SET/ADD/DELETE in source order (appends past a list's end held back), then
//! the held-back appends by index, then removals (list indexes highest first). Paths of one
//! expression never overlap (checked when it was parsed), so this order is only visible for list
//! indexes, where it keeps every index referring to the original list.

use super::ast::{Path, PathElem, SetValue, UpdateAction, UpdateExpr, UpdateOperand};
use super::error::ExprError;
use super::eval::resolve;
use crate::item::{AttributeValue, Item, MAX_NESTING_DEPTH};

/// The result of [`UpdateExpr::apply`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpdateOutcome {
    /// The item after the update.
    pub item: Item,
    /// The paths the expression wrote or removed, in source order. Projecting the old item on
    /// them gives `UPDATED_OLD`, the new item `UPDATED_NEW` (see `project.rs`).
    pub updated_paths: Vec<Path>,
}

impl UpdateOutcome {
    /// The top-level attributes the update touched.
    pub fn updated_attributes(&self) -> std::collections::BTreeSet<&str> {
        self.updated_paths.iter().map(Path::head).collect()
    }
}

impl UpdateExpr {
    /// DynamoDB refuses any action on a key attribute ("Cannot update attribute K. This
    /// attribute is part of the key"). `key_names`: the table's key attribute names.
    pub fn check_key_attributes(&self, key_names: &[&str]) -> Result<(), ExprError> {
        for action in &self.actions {
            let head = action.path().head();
            if key_names.contains(&head) {
                return Err(ExprError::KeyAttributeUpdate(head.to_owned()));
            }
        }
        Ok(())
    }

    /// Applies the update to `base`: the existing item, or for a new item its key attributes.
    pub fn apply(&self, base: &Item) -> Result<UpdateOutcome, ExprError> {
        let mut set_values = Vec::with_capacity(self.actions.len());
        for action in &self.actions {
            set_values.push(match action {
                UpdateAction::Set(_, v) => Some(set_value(base, v)?),
                _ => None,
            });
        }
        let mut item = base.clone();
        let mut appends: Vec<(Path, u32, AttributeValue)> = Vec::new();
        let mut removals: Vec<&Path> = Vec::new();
        for (action, value) in self.actions.iter().zip(set_values) {
            match action {
                UpdateAction::Set(path, _) => {
                    let value = value.ok_or(ExprError::IncorrectDataType)?;
                    place(&mut item, path, value, &mut appends)?;
                }
                UpdateAction::Remove(path) => removals.push(path),
                UpdateAction::Add(path, v) => {
                    let current = current_value(&mut item, path)?;
                    let new = match current {
                        None => v.clone(),
                        Some(AttributeValue::N(a)) => match v {
                            AttributeValue::N(b) => AttributeValue::N(a.checked_add(b)?),
                            _ => return Err(ExprError::IncorrectDataType),
                        },
                        Some(set) => set_union(&set, v)?,
                    };
                    place(&mut item, path, new, &mut appends)?;
                }
                UpdateAction::Delete(path, v) => {
                    if let Some(current) = current_value(&mut item, path)? {
                        match set_difference(&current, v)? {
                            Some(rest) => place(&mut item, path, rest, &mut appends)?,
                            None => removals.push(path),
                        }
                    }
                }
                UpdateAction::LegacyAdd(path, v) => {
                    let new = match current_value(&mut item, path)? {
                        None => v.clone(),
                        Some(current) => legacy_add(current, v)?,
                    };
                    place(&mut item, path, new, &mut appends)?;
                }
                UpdateAction::LegacyDelete(path, v) => {
                    if let Some(current) = current_value(&mut item, path)? {
                        let rest = set_difference(&current, v)
                            .map_err(|_| ExprError::UpdateTypeMismatch)?;
                        match rest {
                            Some(rest) => place(&mut item, path, rest, &mut appends)?,
                            None => removals.push(path),
                        }
                    }
                }
            }
        }
        appends.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
        for (parent, _, value) in appends {
            if let Some(AttributeValue::L(list)) = resolve_mut(&mut item, &parent.0) {
                list.push(value);
            }
        }
        remove_all(&mut item, &removals)?;
        for path in self.actions.iter().map(UpdateAction::path) {
            if item
                .get(path.head())
                .is_some_and(|v| v.depth() > MAX_NESTING_DEPTH)
            {
                return Err(ExprError::NestingTooDeep);
            }
        }
        Ok(UpdateOutcome {
            item,
            updated_paths: self.actions.iter().map(|a| a.path().clone()).collect(),
        })
    }
}

fn operand(base: &Item, op: &UpdateOperand) -> Result<AttributeValue, ExprError> {
    match op {
        UpdateOperand::Path(p) => resolve(Some(base), p)
            .cloned()
            .ok_or(ExprError::MissingAttribute),
        UpdateOperand::Value(v) => Ok(v.clone()),
        UpdateOperand::IfNotExists(p, default) => match resolve(Some(base), p) {
            Some(v) => Ok(v.clone()),
            None => operand(base, default),
        },
        UpdateOperand::ListAppend(a, b) => {
            let AttributeValue::L(mut first) = operand(base, a)? else {
                return Err(ExprError::IncorrectDataType);
            };
            let AttributeValue::L(second) = operand(base, b)? else {
                return Err(ExprError::IncorrectDataType);
            };
            first.extend(second);
            Ok(AttributeValue::L(first))
        }
    }
}

fn set_value(base: &Item, v: &SetValue) -> Result<AttributeValue, ExprError> {
    let (a, b, plus) = match v {
        SetValue::Operand(o) => return operand(base, o),
        SetValue::Plus(a, b) => (a, b, true),
        SetValue::Minus(a, b) => (a, b, false),
    };
    let AttributeValue::N(x) = operand(base, a)? else {
        return Err(ExprError::IncorrectDataType);
    };
    let AttributeValue::N(y) = operand(base, b)? else {
        return Err(ExprError::IncorrectDataType);
    };
    Ok(AttributeValue::N(if plus {
        x.checked_add(&y)?
    } else {
        x.checked_sub(&y)?
    }))
}

/// Legacy ADD onto an existing value: numbers add, sets unite, lists append.
fn legacy_add(current: AttributeValue, add: &AttributeValue) -> Result<AttributeValue, ExprError> {
    match (current, add) {
        (AttributeValue::N(a), AttributeValue::N(b)) => Ok(AttributeValue::N(a.checked_add(b)?)),
        (AttributeValue::L(mut a), AttributeValue::L(b)) => {
            a.extend(b.iter().cloned());
            Ok(AttributeValue::L(a))
        }
        (current, add) => set_union(&current, add).map_err(|_| ExprError::UpdateTypeMismatch),
    }
}

fn set_union(current: &AttributeValue, add: &AttributeValue) -> Result<AttributeValue, ExprError> {
    fn union<T: Ord + Clone>(a: &[T], b: &[T]) -> Vec<T> {
        let mut out: Vec<T> = a.iter().chain(b).cloned().collect();
        out.sort();
        out.dedup();
        out
    }
    Ok(match (current, add) {
        (AttributeValue::Ss(a), AttributeValue::Ss(b)) => AttributeValue::Ss(union(a, b)),
        (AttributeValue::Ns(a), AttributeValue::Ns(b)) => AttributeValue::Ns(union(a, b)),
        (AttributeValue::Bs(a), AttributeValue::Bs(b)) => AttributeValue::Bs(union(a, b)),
        _ => return Err(ExprError::IncorrectDataType),
    })
}

/// `current − remove`; `None` when nothing is left.
fn set_difference(
    current: &AttributeValue,
    remove: &AttributeValue,
) -> Result<Option<AttributeValue>, ExprError> {
    fn minus<T: Ord + Clone>(a: &[T], b: &[T]) -> Vec<T> {
        a.iter()
            .filter(|x| b.binary_search(x).is_err())
            .cloned()
            .collect()
    }
    let rest = match (current, remove) {
        (AttributeValue::Ss(a), AttributeValue::Ss(b)) => AttributeValue::Ss(minus(a, b)),
        (AttributeValue::Ns(a), AttributeValue::Ns(b)) => AttributeValue::Ns(minus(a, b)),
        (AttributeValue::Bs(a), AttributeValue::Bs(b)) => AttributeValue::Bs(minus(a, b)),
        _ => return Err(ExprError::IncorrectDataType),
    };
    let empty = match &rest {
        AttributeValue::Ss(s) => s.is_empty(),
        AttributeValue::Ns(s) => s.is_empty(),
        AttributeValue::Bs(s) => s.is_empty(),
        _ => false,
    };
    Ok((!empty).then_some(rest))
}

fn resolve_mut<'a>(item: &'a mut Item, elems: &[PathElem]) -> Option<&'a mut AttributeValue> {
    let (first, rest) = elems.split_first()?;
    let PathElem::Attr(name) = first else {
        return None;
    };
    let mut cur = item.get_mut(name)?;
    for e in rest {
        cur = match (e, cur) {
            (PathElem::Attr(name), AttributeValue::M(m)) => m.get_mut(name)?,
            (PathElem::Index(i), AttributeValue::L(l)) => l.get_mut(*i as usize)?,
            _ => return None,
        };
    }
    Some(cur)
}

/// The container a path's last element lives in.
enum Parent<'a> {
    Item(&'a mut Item),
    Map(&'a mut std::collections::BTreeMap<String, AttributeValue>),
    List(&'a mut Vec<AttributeValue>),
}

/// The parent of `path`, checked to be a map (last element a name) or a list (an index).
fn parent<'a>(item: &'a mut Item, path: &Path) -> Result<Parent<'a>, ExprError> {
    let Some((last, init)) = path.0.split_last() else {
        return Err(ExprError::InvalidUpdatePath);
    };
    if init.is_empty() {
        return Ok(Parent::Item(item));
    }
    match (resolve_mut(item, init), last) {
        (Some(AttributeValue::M(m)), PathElem::Attr(_)) => Ok(Parent::Map(m)),
        (Some(AttributeValue::L(l)), PathElem::Index(_)) => Ok(Parent::List(l)),
        _ => Err(ExprError::InvalidUpdatePath),
    }
}

/// The current value at `path` (`None` if absent), after checking that its parent is valid.
fn current_value(item: &mut Item, path: &Path) -> Result<Option<AttributeValue>, ExprError> {
    let last = path.0.last().ok_or(ExprError::InvalidUpdatePath)?;
    Ok(match (parent(item, path)?, last) {
        (Parent::Item(m), PathElem::Attr(n)) | (Parent::Map(m), PathElem::Attr(n)) => m.get(n),
        (Parent::List(l), PathElem::Index(i)) => l.get(*i as usize),
        _ => None,
    }
    .cloned())
}

fn place(
    item: &mut Item,
    path: &Path,
    value: AttributeValue,
    appends: &mut Vec<(Path, u32, AttributeValue)>,
) -> Result<(), ExprError> {
    let last = path.0.last().ok_or(ExprError::InvalidUpdatePath)?;
    match (parent(item, path)?, last) {
        (Parent::Item(m), PathElem::Attr(n)) | (Parent::Map(m), PathElem::Attr(n)) => {
            m.insert(n.clone(), value);
        }
        (Parent::List(l), PathElem::Index(i)) => match l.get_mut(*i as usize) {
            Some(slot) => *slot = value,
            None => appends.push((Path(path.0[..path.0.len() - 1].to_vec()), *i, value)),
        },
        _ => return Err(ExprError::InvalidUpdatePath),
    }
    Ok(())
}

fn remove_all(item: &mut Item, removals: &[&Path]) -> Result<(), ExprError> {
    // Validate every parent first, then remove list elements highest index first.
    let mut list_removals: Vec<(Path, u32)> = Vec::new();
    for path in removals {
        let last = path.0.last().ok_or(ExprError::InvalidUpdatePath)?;
        match (parent(item, path)?, last) {
            (Parent::Item(m), PathElem::Attr(n)) | (Parent::Map(m), PathElem::Attr(n)) => {
                m.remove(n);
            }
            (Parent::List(_), PathElem::Index(i)) => {
                list_removals.push((Path(path.0[..path.0.len() - 1].to_vec()), *i));
            }
            _ => return Err(ExprError::InvalidUpdatePath),
        }
    }
    list_removals.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
    for (parent_path, i) in list_removals {
        if let Some(AttributeValue::L(list)) = resolve_mut(item, &parent_path.0)
            && (i as usize) < list.len()
        {
            list.remove(i as usize);
        }
    }
    Ok(())
}
