// The manifest-directory source: Namespaces, Pods and Services from YAML/JSON
// files, kept at their last good state while a file is being fixed.

export { loadManifests } from './load.ts';
export { LastGood, type MergeResult, toClusterObjects } from './merge.ts';
export {
  type IgnoredObject,
  objectId,
  type ParsedObject,
  type ParseResult,
  parseManifestFile,
  parseObjects,
} from './parse.ts';
export {
  isIgnoredName,
  isManifestName,
  ManifestSource,
  type ManifestSourceOptions,
} from './source.ts';
