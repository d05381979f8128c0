/**
 * persistctl: the operator's tool. The control plane (status, diff, commit, discard, revert,
 * reset and the Ink TUI) arrives with the control socket; until then it says so plainly.
 */
console.error('persistctl: the control plane is not built yet; this version only has persistd mount');
process.exit(2);
