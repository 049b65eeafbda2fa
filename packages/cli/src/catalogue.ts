/**
 * First-party pass packages and the passes they provide. Used only to tell a user which
 * package to install for a known pass; the CLI never runs a pass from this list.
 */
export const FIRST_PARTY: Record<string, readonly string[]> = {
  '@tfpass/pass-strip': [
    'strip_unused_nodes', 'remove_nodes', 'sort_by_execution_order', 'remove_device', 'set_device',
    'remove_attribute', 'rename_attribute', 'rename_op', 'rename_node', 'remove_control_dependencies',
    'merge_duplicate_nodes', 'obfuscate_names', 'backport_concatv2', 'backport_tensor_array_v3',
    'backport_addv2', 'sparsify_gather', 'inline_partitionedcall', 'add_default_attributes', 'insert_logging',
  ],
  '@tfpass/pass-fold-constants': ['fold_constants'],
  '@tfpass/pass-fold-bn': [
    'fold_batch_norms', 'fold_old_batch_norms', 'freeze_placeholder', 'fuse_pad_and_conv',
    'fuse_resize_and_conv', 'fuse_resize_pad_and_conv', 'flatten_atrous_conv',
  ],
  '@tfpass/quantize': [
    'quantize_weights', 'round_weights', 'quantize_nodes', 'freeze_requantization_ranges',
    'create_training_graph', 'create_eval_graph', 'quantize_training', 'quantize_eval',
  ],
  '@tfpass/pass-instance-norm': ['fuse_instance_norm'],
};

export function catalogueLookup(pass: string): string | undefined {
  for (const [pkg, names] of Object.entries(FIRST_PARTY)) if (names.includes(pass)) return pkg;
  return undefined;
}
