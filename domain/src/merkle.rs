//! The audit log's Merkle tree, as RFC 6962 / RFC 9162 define it, so that anyone's implementation of
//! those RFCs can check our proofs: a leaf is `SHA-256(0x00 ‖ entry bytes)`, an interior node
//! `SHA-256(0x01 ‖ left ‖ right)`, the tree over `n` leaves splits at the largest power of two below
//! `n`, and the empty tree's hash is `SHA-256("")`.
//!
//! - [`root`]: the tree hash of a list of leaf hashes;
//! - [`inclusion_proof`] / [`verify_inclusion`]: that one entry is at an index of a tree of a size;
//! - [`consistency_proof`] / [`verify_consistency`]: that a tree of one size is a prefix of a larger
//!   one (the log was only appended to between two checkpoints);
//! - [`inclusion_subtrees`] / [`consistency_subtrees`]: the same proofs as the stored perfect
//!   subtrees each of their hashes folds ([`fold_subtrees`]), so a server reads a few of them.
//!
//! - [`Frontier`]: the tree's right edge (at most 64 hashes), enough to append a leaf and to know the
//!   root at every size without reading the leaves again.
//!
//! Pure functions over hashes: where the hashes are stored is the integrator's business.

use crate::hash::sha256;

/// A SHA-256 digest: a leaf hash, a node hash or a tree root.
pub type Hash = [u8; 32];

/// The hash of the empty tree.
pub fn empty_root() -> Hash {
    sha256(&[])
}

/// The leaf hash of one entry's canonical bytes.
pub fn leaf_hash(entry: &[u8]) -> Hash {
    sha256(&[&[0x00], entry])
}

/// The hash of an interior node.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    sha256(&[&[0x01], left, right])
}

/// The largest power of two smaller than `n` (for `n >= 2`): where a tree of `n` leaves splits.
fn split(n: usize) -> usize {
    debug_assert!(n >= 2);
    1 << (usize::BITS - 1 - (n - 1).leading_zeros())
}

/// The tree hash (MTH) over `leaves`, given as leaf hashes.
pub fn root(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => empty_root(),
        1 => leaves[0],
        n => {
            let k = split(n);
            node_hash(&root(&leaves[..k]), &root(&leaves[k..]))
        }
    }
}

/// The audit path of leaf `index` in the tree over `leaves` (RFC 6962 `PATH(m, D[n])`), or `None`
/// when `index` is not a leaf of it.
pub fn inclusion_proof(leaves: &[Hash], index: usize) -> Option<Vec<Hash>> {
    if index >= leaves.len() {
        return None;
    }
    let mut proof = Vec::new();
    path(leaves, index, &mut proof);
    Some(proof)
}

fn path(leaves: &[Hash], index: usize, proof: &mut Vec<Hash>) {
    let n = leaves.len();
    if n <= 1 {
        return;
    }
    let k = split(n);
    if index < k {
        path(&leaves[..k], index, proof);
        proof.push(root(&leaves[k..]));
    } else {
        path(&leaves[k..], index - k, proof);
        proof.push(root(&leaves[..k]));
    }
}

/// Checks that `leaf` is at `index` in the tree of `size` leaves whose hash is `root`
/// (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(index: u64, size: u64, leaf: &Hash, proof: &[Hash], root: &Hash) -> bool {
    if index >= size {
        return false;
    }
    let (mut f, mut s) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if s == 0 {
            return false;
        }
        if f & 1 == 1 || f == s {
            r = node_hash(p, &r);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    s == 0 && r == *root
}

/// The proof that the tree over the first `old_size` of `leaves` is a prefix of the tree over all of
/// them (RFC 6962 `PROOF(m, D[n])`), or `None` unless `0 < old_size <= leaves.len()`.
pub fn consistency_proof(leaves: &[Hash], old_size: usize) -> Option<Vec<Hash>> {
    if old_size == 0 || old_size > leaves.len() {
        return None;
    }
    let mut proof = Vec::new();
    subproof(leaves, old_size, true, &mut proof);
    Some(proof)
}

fn subproof(leaves: &[Hash], m: usize, whole: bool, proof: &mut Vec<Hash>) {
    let n = leaves.len();
    if m == n {
        if !whole {
            proof.push(root(leaves));
        }
        return;
    }
    let k = split(n);
    if m <= k {
        subproof(&leaves[..k], m, whole, proof);
        proof.push(root(&leaves[k..]));
    } else {
        subproof(&leaves[k..], m - k, false, proof);
        proof.push(root(&leaves[..k]));
    }
}

/// Checks that the tree of `old_size` leaves hashing to `old_root` is a prefix of the tree of
/// `new_size` leaves hashing to `new_root` (RFC 9162 §2.1.4.2). Equal sizes need equal roots and an
/// empty proof; an empty old tree is a prefix of every tree.
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> bool {
    if old_size > new_size {
        return false;
    }
    if old_size == new_size {
        return proof.is_empty() && old_root == new_root;
    }
    if old_size == 0 {
        return proof.is_empty() && *old_root == empty_root();
    }
    let Some((first, rest)) = proof.split_first() else {
        return false;
    };
    // A power-of-two old tree is a node of the new one: the proof starts above it.
    let (seed, rest): (Hash, &[Hash]) = if old_size.is_power_of_two() {
        (*old_root, proof)
    } else {
        (*first, rest)
    };
    let (mut f, mut s) = (old_size - 1, new_size - 1);
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let (mut fr, mut sr) = (seed, seed);
    for c in rest {
        if s == 0 {
            return false;
        }
        if f & 1 == 1 || f == s {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f >>= 1;
        s >>= 1;
    }
    s == 0 && fr == *old_root && sr == *new_root
}

/// The roots of the perfect subtrees along the right edge of a tree, largest first: appending a
/// leaf merges equal-sized neighbours, as a binary counter carries.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    /// (height, hash) of each perfect subtree, heights strictly decreasing.
    nodes: Vec<(u32, Hash)>,
}

impl Frontier {
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The stored form: the subtree hashes, largest first (their heights are the set bits of the
    /// size).
    pub fn hashes(&self) -> Vec<Hash> {
        self.nodes.iter().map(|(_, h)| *h).collect()
    }

    /// Rebuilds a frontier from its size and [`Frontier::hashes`]; `None` when they do not fit.
    pub fn from_parts(size: u64, hashes: &[Hash]) -> Option<Frontier> {
        let heights: Vec<u32> = (0..64).rev().filter(|b| size >> b & 1 == 1).collect();
        (heights.len() == hashes.len()).then(|| Frontier {
            size,
            nodes: heights.into_iter().zip(hashes.iter().copied()).collect(),
        })
    }

    pub fn push(&mut self, leaf: Hash) {
        self.push_completing(leaf);
    }

    /// Appends a leaf and returns the perfect subtrees it completes, heights 1, 2, … in order: the
    /// subtree of height `h` covers the leaves `index + 1 - 2^h ..= index`. Stored beside the leaf,
    /// they make any inclusion proof a few reads ([`inclusion_subtrees`]).
    pub fn push_completing(&mut self, leaf: Hash) -> Vec<Hash> {
        let mut completed = Vec::new();
        let mut node = (0, leaf);
        while let Some(&(height, left)) = self.nodes.last() {
            if height != node.0 {
                break;
            }
            self.nodes.pop();
            node = (height + 1, node_hash(&left, &node.1));
            completed.push(node.1);
        }
        self.nodes.push(node);
        self.size += 1;
        completed
    }

    /// The tree hash of the leaves pushed so far: the right-most subtrees folded into their left
    /// neighbours, which is how RFC 6962 splits an unbalanced tree.
    pub fn root(&self) -> Hash {
        let mut nodes = self.nodes.iter().rev();
        let Some(&(_, mut hash)) = nodes.next() else {
            return empty_root();
        };
        for (_, left) in nodes {
            hash = node_hash(left, &hash);
        }
        hash
    }
}

/// A perfect subtree: the leaves `start .. start + 2^height`, `start` a multiple of `2^height`.
/// Its hash is stored with its last leaf ([`Frontier::push_completing`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Subtree {
    pub start: u64,
    pub height: u32,
}

impl Subtree {
    /// The leaf whose push completed this subtree (and beside which its hash is kept).
    pub fn last_leaf(&self) -> u64 {
        self.start + (1 << self.height) - 1
    }
}

/// The perfect subtrees that make up the leaves `start .. end` when `start` is aligned to the
/// range's largest power of two (every range an RFC 6962 proof names is): largest first. The
/// range's hash folds them from the right, `node(s1, node(s2, … sk))`.
fn decompose(start: u64, end: u64) -> Vec<Subtree> {
    let mut parts = Vec::new();
    let mut at = start;
    let len = end - start;
    for height in (0..64).rev() {
        if len >> height & 1 == 1 {
            parts.push(Subtree { start: at, height });
            at += 1 << height;
        }
    }
    parts
}

/// The inclusion proof of leaf `index` in a tree of `size` leaves, as the subtrees each of its
/// hashes is made of (proof order, as [`inclusion_proof`] gives them); `None` when `index` is not
/// a leaf of the tree. At most 64 hashes, each of at most 64 subtrees.
pub fn inclusion_subtrees(index: u64, size: u64) -> Option<Vec<Vec<Subtree>>> {
    if index >= size {
        return None;
    }
    // PATH(m, D[start..end]) walked from the root down, then reversed into proof order.
    let mut steps = Vec::new();
    let (mut start, mut end) = (0u64, size);
    while end - start > 1 {
        let n = end - start;
        let k = 1u64 << (63 - (n - 1).leading_zeros());
        if index - start < k {
            steps.push(decompose(start + k, end));
            end = start + k;
        } else {
            steps.push(decompose(start, start + k));
            start += k;
        }
    }
    steps.reverse();
    Some(steps)
}

/// The consistency proof from a tree of `old_size` leaves to one of `new_size` leaves, as the
/// subtrees each of its hashes is made of (proof order, as [`consistency_proof`] gives them);
/// `None` unless `0 < old_size <= new_size`. At most 64 hashes, each of at most 64 subtrees.
pub fn consistency_subtrees(old_size: u64, new_size: u64) -> Option<Vec<Vec<Subtree>>> {
    if old_size == 0 || old_size > new_size {
        return None;
    }
    // SUBPROOF(m, D[start..end], whole) of RFC 6962, walked over ranges instead of leaves.
    let mut proof = Vec::new();
    let (mut start, mut end, mut m, mut whole) = (0u64, new_size, old_size, true);
    let mut after = Vec::new();
    loop {
        let n = end - start;
        if m == n {
            if !whole {
                proof.push(decompose(start, end));
            }
            break;
        }
        let k = 1u64 << (63 - (n - 1).leading_zeros());
        if m <= k {
            after.push(decompose(start + k, end));
            end = start + k;
        } else {
            after.push(decompose(start, start + k));
            start += k;
            m -= k;
            whole = false;
        }
    }
    // The recursion pushes a level's hash after the levels below it.
    proof.extend(after.into_iter().rev());
    Some(proof)
}

/// The hash of a range from the hashes of its [`inclusion_subtrees`] parts, largest first.
pub fn fold_subtrees(hashes: &[Hash]) -> Option<Hash> {
    let (last, rest) = hashes.split_last()?;
    Some(
        rest.iter()
            .rev()
            .fold(*last, |right, left| node_hash(left, &right)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn hex(h: &Hash) -> String {
        h.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn unhex(s: &str) -> Hash {
        let bytes: Vec<u8> = (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect();
        bytes.try_into().unwrap()
    }

    /// The reference leaves of RFC 6962's test data (Certificate Transparency).
    fn reference_leaves() -> Vec<Hash> {
        let data: [&[u8]; 8] = [
            b"",
            b"\x00",
            b"\x10",
            b"\x20\x21",
            b"\x30\x31",
            b"\x40\x41\x42\x43",
            b"\x50\x51\x52\x53\x54\x55\x56\x57",
            b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
        ];
        data.iter().map(|d| leaf_hash(d)).collect()
    }

    /// The published tree heads of those leaves, for sizes 0 to 8.
    const REFERENCE_ROOTS: [&str; 9] = [
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];

    #[test]
    fn roots_match_the_published_tree_heads() {
        let leaves = reference_leaves();
        for (size, expected) in REFERENCE_ROOTS.iter().enumerate() {
            assert_eq!(hex(&root(&leaves[..size])), *expected, "size {size}");
        }
    }

    #[test]
    fn inclusion_proofs_match_the_published_paths() {
        let leaves = reference_leaves();
        let cases = [
            (
                0,
                [
                    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
                ],
            ),
            (
                5,
                [
                    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                ],
            ),
        ];
        let head = unhex(REFERENCE_ROOTS[8]);
        for (index, expected) in cases {
            let proof = inclusion_proof(&leaves, index).unwrap();
            let expected: Vec<Hash> = expected.iter().map(|h| unhex(h)).collect();
            assert_eq!(proof, expected, "leaf {index}");
            assert!(verify_inclusion(
                index as u64,
                8,
                &leaves[index],
                &proof,
                &head
            ));
        }
    }

    fn leaves(n: usize) -> Vec<Hash> {
        (0..n)
            .map(|i| leaf_hash(&(i as u64).to_be_bytes()))
            .collect()
    }

    /// Every proof of every leaf of every tree up to 40 leaves verifies, and none verifies for
    /// another leaf, index, size or root.
    #[test]
    fn every_inclusion_proof_verifies_and_nothing_else_does() {
        let all = leaves(40);
        for n in 1..=all.len() {
            let tree = &all[..n];
            let head = root(tree);
            for i in 0..n {
                let proof = inclusion_proof(tree, i).unwrap();
                let (i64_, n64) = (i as u64, n as u64);
                assert!(
                    verify_inclusion(i64_, n64, &tree[i], &proof, &head),
                    "{i} of {n}"
                );
                let other = leaf_hash(b"not in the log");
                assert!(!verify_inclusion(i64_, n64, &other, &proof, &head));
                // A size travels with its root in a signed checkpoint: against the larger tree's
                // own root, this tree's proof fails.
                if n < all.len() {
                    let larger = root(&all[..=n]);
                    assert!(!verify_inclusion(i64_, n64 + 1, &tree[i], &proof, &larger));
                }
                assert!(!verify_inclusion(n64, n64, &tree[i], &proof, &head));
                if n > 1 {
                    let moved = (i + 1) % n;
                    assert!(!verify_inclusion(
                        moved as u64,
                        n64,
                        &tree[i],
                        &proof,
                        &head
                    ));
                }
                assert!(!verify_inclusion(i64_, n64, &tree[i], &proof, &other));
            }
            assert!(inclusion_proof(tree, n).is_none());
        }
    }

    /// Every older tree is provably a prefix of every newer one, and a changed history is not.
    #[test]
    fn every_consistency_proof_verifies_and_a_rewritten_history_does_not() {
        let all = leaves(40);
        for n in 1..=all.len() {
            let new_root = root(&all[..n]);
            for m in 1..=n {
                let old_root = root(&all[..m]);
                let proof = consistency_proof(&all[..n], m).unwrap();
                let (m64, n64) = (m as u64, n as u64);
                assert!(
                    verify_consistency(m64, n64, &old_root, &new_root, &proof),
                    "{m} -> {n}"
                );
                let mut rewritten = all[..n].to_vec();
                rewritten[m - 1] = leaf_hash(b"edited");
                let forged = root(&rewritten[..m]);
                assert!(!verify_consistency(m64, n64, &forged, &new_root, &proof));
                if m < n {
                    assert!(!verify_consistency(n64, m64, &new_root, &old_root, &proof));
                    let forged_new = root(&rewritten);
                    let rewritten_proof = consistency_proof(&rewritten, m).unwrap();
                    assert!(!verify_consistency(
                        m64,
                        n64,
                        &old_root,
                        &forged_new,
                        &rewritten_proof
                    ));
                }
            }
            assert!(verify_consistency(
                0,
                n as u64,
                &empty_root(),
                &new_root,
                &[]
            ));
            assert!(consistency_proof(&all[..n], 0).is_none());
        }
    }

    #[test]
    fn the_frontier_gives_the_root_of_every_size() {
        let all = leaves(130);
        let mut frontier = Frontier::default();
        assert_eq!(frontier.root(), empty_root());
        for (n, leaf) in all.iter().enumerate() {
            frontier.push(*leaf);
            assert_eq!(frontier.size(), n as u64 + 1);
            assert_eq!(frontier.root(), root(&all[..=n]), "size {}", n + 1);
        }
        let mut reference = Frontier::default();
        for leaf in reference_leaves() {
            reference.push(leaf);
        }
        assert_eq!(hex(&reference.root()), REFERENCE_ROOTS[8]);
        // Stored and read back at every size, it goes on as if it had never stopped.
        let mut resumed = Frontier::default();
        for leaf in &all {
            resumed = Frontier::from_parts(resumed.size(), &resumed.hashes()).unwrap();
            resumed.push(*leaf);
        }
        assert_eq!(resumed, frontier);
        assert!(Frontier::from_parts(3, &[[0; 32]]).is_none());
    }

    proptest! {
        /// Any flipped bit in any proof element makes the proof fail.
        #[test]
        fn tampered_proofs_fail(n in 2usize..200, pick in any::<usize>(), bit in 0usize..256) {
            let tree = leaves(n);
            let head = root(&tree);
            let i = pick % n;
            let mut proof = inclusion_proof(&tree, i).unwrap();
            let at = pick % proof.len();
            proof[at][bit / 8] ^= 1 << (bit % 8);
            prop_assert!(!verify_inclusion(i as u64, n as u64, &tree[i], &proof, &head));
            let m = 1 + pick % (n - 1);
            let mut proof = consistency_proof(&tree, m).unwrap();
            let at = pick % proof.len();
            proof[at][bit / 8] ^= 1 << (bit % 8);
            let old = root(&tree[..m]);
            prop_assert!(!verify_consistency(m as u64, n as u64, &old, &head, &proof));
        }
    }

    /// Proofs assembled from the subtrees stored beside the leaves equal the proofs computed from
    /// all the leaves, for every leaf of every tree up to 70 leaves.
    #[test]
    fn proofs_from_stored_subtrees_equal_proofs_from_all_leaves() {
        let all = leaves(70);
        let mut frontier = Frontier::default();
        // (last leaf, height) -> hash, as integration stores them.
        let mut stored = std::collections::BTreeMap::new();
        for (i, leaf) in all.iter().enumerate() {
            stored.insert((i as u64, 0), *leaf);
            for (h, node) in frontier.push_completing(*leaf).into_iter().enumerate() {
                stored.insert((i as u64, h as u32 + 1), node);
            }
        }
        let assemble = |parts: Vec<Vec<Subtree>>| -> Vec<Hash> {
            parts
                .iter()
                .map(|subtrees| {
                    let hashes: Vec<Hash> = subtrees
                        .iter()
                        .map(|t| stored[&(t.last_leaf(), t.height)])
                        .collect();
                    fold_subtrees(&hashes).unwrap()
                })
                .collect()
        };
        for n in 1..=all.len() {
            for i in 0..n {
                let assembled = assemble(inclusion_subtrees(i as u64, n as u64).unwrap());
                assert_eq!(Some(assembled), inclusion_proof(&all[..n], i), "{i} of {n}");
            }
            assert!(inclusion_subtrees(n as u64, n as u64).is_none());
            for m in 1..=n {
                let assembled = assemble(consistency_subtrees(m as u64, n as u64).unwrap());
                assert_eq!(
                    Some(assembled),
                    consistency_proof(&all[..n], m),
                    "{m} to {n}"
                );
            }
            assert!(consistency_subtrees(0, n as u64).is_none());
            assert!(consistency_subtrees(n as u64 + 1, n as u64).is_none());
        }
    }
}
