// The manifest-directory source: Namespaces, Pods and Services from YAML/JSON
// files, kept at their last good state while a file is being fixed.
export { LastGood, type MergeResult, toClusterObjects } from './merge.ts';
export {
  type IgnoredObject,
  objectId,
  type ParsedObject,
  type ParseResult,
  parseManifestFile,
} from './parse.ts';
export {
  isIgnoredName,
  isManifestName,
  ManifestSource,
  type ManifestSourceOptions,
} from './source.ts';
