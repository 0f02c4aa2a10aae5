import { AppError } from '../errors/app-error';
import { type FolderField, isFolderField } from '../folders/record';

/**
 * Relations a query may follow: a file's `folder`, a folder's `parent`, and from a folder on its
 * `parent` again. Each hop is one LEFT JOIN on the folders' primary key in the same statement.
 */
export const RELATION_DEPTH = 2;

/** A folder field reached through `depth` relation hops (`folder.parent.name`: depth 2, `name`). */
export interface RelatedField {
  depth: number;
  field: FolderField;
}

/** A field of the collection itself, or of a folder its relation reaches. */
export type FieldRef<F extends string> = F | RelatedField;

/** What `fields` asks for at one level: its own fields (all when undefined), and the related folder's. */
export interface Selection<F extends string> {
  fields: F[] | undefined;
  /** Set when the relation field is expanded into the folder's record (Directus's m2o expansion). */
  related?: Selection<FolderField> | undefined;
}

export type FieldCheck<F extends string> = (name: string, where: string) => F;

const invalid = (message: string) => new AppError('INVALID_QUERY', message);

/** The field the collection's relation follows at `depth` hops: its own at 0, a folder's `parent` after. */
export function relationAt<F extends string>(relation: F, depth: number): string {
  return depth === 0 ? relation : 'parent';
}

/**
 * Resolves a dotted path (`folder.parent.name`) to a field, or a 400 naming the path: every segment
 * but the last must be the relation at its depth, at most RELATION_DEPTH of them.
 */
export function resolvePath<F extends string>(segments: string[], relation: F, field: FieldCheck<F>, where: string): FieldRef<F> {
  const path = segments.join('.');
  const [first, ...rest] = segments;
  const root = field(first ?? '', where);
  if (rest.length === 0) return root;
  if (root !== relation) throw invalid(`"${first}" in "${path}" (${where}) is not a relation; only "${relation}" is.`);
  if (rest.length > RELATION_DEPTH) throw invalid(`"${path}" in ${where} follows ${rest.length} relations; at most ${RELATION_DEPTH} may be followed.`);
  for (const [i, segment] of rest.slice(0, -1).entries()) {
    if (segment !== 'parent') throw invalid(`"${segment}" in "${path}" (${where}) is not a relation of folders at depth ${i + 1}; only "parent" is.`);
  }
  const last = rest[rest.length - 1] ?? '';
  if (!isFolderField(last)) throw invalid(`Unknown field "${path}" in ${where}: folders have id, name, parent.`);
  return { depth: rest.length, field: last };
}

interface Builder {
  all: boolean;
  names: Set<string>;
  related?: Builder;
}

/**
 * Directus's `fields`: `*`, own fields, and dotted paths through the relation (`folder.*`,
 * `folder.name`, `folder.parent.*`). Naming a path expands the relation field into an object holding
 * the fields named at that level (all of them for `*`). Undefined when `fields` is absent.
 */
export function parseSelection<F extends string>(param: string | null, relation: F, field: FieldCheck<F>): Selection<F> | undefined {
  if (!param) return undefined;
  const root: Builder = { all: false, names: new Set() };
  for (const entry of param.split(',').map((f) => f.trim())) {
    if (entry === '*') {
      root.all = true;
      continue;
    }
    const segments = entry.split('.');
    const last = segments[segments.length - 1];
    const target = last === '*' && segments.length > 1 ? segments.slice(0, -1).concat('id') : segments;
    const resolved = resolvePath(target, relation, field, 'fields');
    let node = root;
    for (let depth = 0; depth < segments.length - 1; depth++) {
      node.names.add(relationAt(relation, depth));
      node = node.related ??= { all: false, names: new Set() };
    }
    if (last === '*' && segments.length > 1) node.all = true;
    else node.names.add(typeof resolved === 'string' ? resolved : resolved.field);
  }
  return finish<F>(root);
}

/** Names in a builder were checked when added: the collection's own at the root, a folder's below. */
function finish<F extends string>(node: Builder): Selection<F> {
  return { fields: node.all ? undefined : ([...node.names] as F[]), ...(node.related ? { related: finish<FolderField>(node.related) } : {}) };
}

/** Relation hops a selection expands. */
export function selectionDepth(selection: Selection<string> | undefined): number {
  return selection?.related ? 1 + selectionDepth(selection.related) : 0;
}
