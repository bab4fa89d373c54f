//! The DDS printer: the declarations of a (constrained) dataset, laid out as libdap's
//! `print_decl` lays them out, so a constrained DDS is what the libdap reference server prints
//! for the same constraint (a partially projected Grid becomes a Structure, dimensions shrink to
//! the hyperslab, unprojected members disappear).

use std::fmt::Write as _;

use cdm::Range;

use crate::constraint::{GridSel, MemberSel, Projected, StructSel, VarSel};
use crate::das::www_name;
use crate::mapping::{Atomic, Dap2Dataset, Dim, Node};

fn pad(indent: usize) -> String {
    " ".repeat(indent)
}

fn dims_text(dims: &[Dim], ranges: &[Range]) -> String {
    let mut out = String::new();
    for (d, r) in dims.iter().zip(ranges) {
        match &d.name {
            Some(n) => {
                let _ = write!(out, "[{} = {}]", www_name(n), r.count);
            }
            None => {
                let _ = write!(out, "[{}]", r.count);
            }
        }
    }
    out
}

fn atomic_decl(out: &mut String, a: &Atomic, ranges: &[Range], indent: usize) {
    let _ = writeln!(
        out,
        "{}{} {}{};",
        pad(indent),
        a.ty().name(),
        www_name(&a.name),
        dims_text(&a.dims, ranges)
    );
}

fn structure_decl(out: &mut String, node: &Node, sel: &StructSel, indent: usize) {
    let Node::Structure {
        name,
        dims,
        members,
    } = node
    else {
        return;
    };
    let _ = writeln!(out, "{}Structure {{", pad(indent));
    for (m, s) in members.iter().zip(&sel.members) {
        member_decl(out, m, s, indent + 4);
    }
    let _ = writeln!(
        out,
        "{}}} {}{};",
        pad(indent),
        www_name(name),
        dims_text(dims, &sel.ranges)
    );
}

fn member_decl(out: &mut String, node: &Node, sel: &MemberSel, indent: usize) {
    match (node, sel) {
        (_, MemberSel::Skip) => {}
        (Node::Atomic(a), MemberSel::Atomic(r)) => atomic_decl(out, a, r, indent),
        (Node::Structure { .. }, MemberSel::Structure(s)) => structure_decl(out, node, s, indent),
        // A selection always matches its node; nothing to print otherwise.
        _ => {}
    }
}

fn grid_decl(out: &mut String, var: &crate::mapping::Dap2Var, sel: &GridSel, indent: usize) {
    let Node::Atomic(array) = &var.node else {
        return;
    };
    if sel.is_grid() {
        let _ = writeln!(out, "{}Grid {{", pad(indent));
        let _ = writeln!(out, "{}  Array:", pad(indent));
        if let Some(r) = &sel.array {
            atomic_decl(out, array, r, indent + 4);
        }
        let _ = writeln!(out, "{}  Maps:", pad(indent));
    } else {
        let _ = writeln!(out, "{}Structure {{", pad(indent));
        if let Some(r) = &sel.array {
            atomic_decl(out, array, r, indent + 4);
        }
    }
    for (m, r) in var.maps.iter().zip(&sel.maps) {
        if let Some(r) = r {
            atomic_decl(out, &m.array, std::slice::from_ref(r), indent + 4);
        }
    }
    let _ = writeln!(out, "{}}} {};", pad(indent), www_name(var.name()));
}

/// Appends the declaration of one projected variable.
pub(crate) fn var_decl(out: &mut String, ds: &Dap2Dataset, p: &Projected, indent: usize) {
    let Some(var) = ds.vars.get(p.index) else {
        return;
    };
    match (&p.sel, &var.node) {
        (VarSel::Grid(g), _) => grid_decl(out, var, g, indent),
        (VarSel::Atomic(r), Node::Atomic(a)) => atomic_decl(out, a, r, indent),
        (VarSel::Structure(s), node @ Node::Structure { .. }) => {
            structure_decl(out, node, s, indent);
        }
        _ => {}
    }
}

/// The DDS of the projected variables.
#[must_use]
pub fn print_dds(ds: &Dap2Dataset, projected: &[Projected]) -> String {
    let mut out = String::from("Dataset {\n");
    for p in projected {
        var_decl(&mut out, ds, p, 4);
    }
    let _ = writeln!(out, "}} {};", www_name(&ds.name));
    out
}
