// Generated protobuf-es schemas, for packages that read or write TF containers (codecs only;
// passes use the IR). Re-exported from one place so there is one copy of each schema.
export * from './gen/tensorflow/core/framework/types_pb.js';
export * from './gen/tensorflow/core/framework/tensor_shape_pb.js';
export * from './gen/tensorflow/core/framework/tensor_slice_pb.js';
export * from './gen/tensorflow/core/framework/tensor_pb.js';
export * from './gen/tensorflow/core/framework/resource_handle_pb.js';
export * from './gen/tensorflow/core/framework/attr_value_pb.js';
export * from './gen/tensorflow/core/framework/node_def_pb.js';
export * from './gen/tensorflow/core/framework/graph_pb.js';
export * from './gen/tensorflow/core/framework/versions_pb.js';
export * from './gen/tensorflow/core/framework/function_pb.js';
export * from './gen/tensorflow/core/framework/op_def_pb.js';
export * from './gen/tensorflow/core/protobuf/meta_graph_pb.js';
export * from './gen/tensorflow/core/protobuf/saver_pb.js';
export * from './gen/tensorflow/core/protobuf/saved_model_pb.js';
export * from './gen/tensorflow/core/protobuf/tensor_bundle_pb.js';
export { fromBinary, toBinary, create, clone, equals, toJson, fromJson } from '@bufbuild/protobuf';
export { fromText, toText } from '@bufbuild/protobuf/txtpb';
