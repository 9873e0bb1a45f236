//! Projection: the parts of an item named by a list of document paths (ProjectionExpression,
//! and `UPDATED_OLD`/`UPDATED_NEW` over an update's paths). DynamoDB keeps the document's
//! shape: `a.b` yields `{a: {M: {b: …}}}`, and list elements keep their order but are
//! compacted (`l[0], l[2]` yields a two-element list). Paths that do not exist contribute
//! nothing, and no empty map or list is produced for them.

use std::collections::BTreeMap;

use super::ast::{Path, PathElem, Projection};
use crate::item::{AttributeValue, Item};

/// What to keep under one node.
enum Node {
    Whole,
    Map(BTreeMap<String, Node>),
    List(BTreeMap<u32, Node>),
}

impl Node {
    fn insert(&mut self, rest: &[PathElem]) {
        let Some((first, rest)) = rest.split_first() else {
            *self = Node::Whole;
            return;
        };
        let child = match (&mut *self, first) {
            (Node::Whole, _) => return,
            (Node::Map(m), PathElem::Attr(name)) => m.entry(name.clone()),
            (Node::List(l), PathElem::Index(i)) => {
                l.entry(*i).or_insert_with(|| empty_for(rest)).insert(rest);
                return;
            }
            // A map step under a list node or the reverse: that path cannot match.
            _ => return,
        };
        child.or_insert_with(|| empty_for(rest)).insert(rest);
    }

    fn extract(&self, v: &AttributeValue) -> Option<AttributeValue> {
        match (self, v) {
            (Node::Whole, v) => Some(v.clone()),
            (Node::Map(children), AttributeValue::M(m)) => {
                let out: BTreeMap<String, AttributeValue> = children
                    .iter()
                    .filter_map(|(k, n)| Some((k.clone(), n.extract(m.get(k)?)?)))
                    .collect();
                (!out.is_empty()).then_some(AttributeValue::M(out))
            }
            (Node::List(children), AttributeValue::L(l)) => {
                let out: Vec<AttributeValue> = children
                    .iter()
                    .filter_map(|(i, n)| n.extract(l.get(*i as usize)?))
                    .collect();
                (!out.is_empty()).then_some(AttributeValue::L(out))
            }
            _ => None,
        }
    }
}

/// The node for what follows: a map node for `.name`, a list node for `[i]`, whole at the end.
fn empty_for(rest: &[PathElem]) -> Node {
    match rest.first() {
        None => Node::Whole,
        Some(PathElem::Attr(_)) => Node::Map(BTreeMap::new()),
        Some(PathElem::Index(_)) => Node::List(BTreeMap::new()),
    }
}

/// The projection of `item` on `paths`.
pub fn project(item: &Item, paths: &[Path]) -> Item {
    let mut root = Node::Map(BTreeMap::new());
    for p in paths {
        if matches!(p.0.first(), Some(PathElem::Attr(_))) {
            root.insert(&p.0);
        }
    }
    let Node::Map(top) = root else {
        return item.clone();
    };
    top.iter()
        .filter_map(|(name, node)| Some((name.clone(), node.extract(item.get(name)?)?)))
        .collect()
}

impl Projection {
    /// The projection of `item` on this expression's paths.
    pub fn apply(&self, item: &Item) -> Item {
        project(item, &self.paths)
    }
}
