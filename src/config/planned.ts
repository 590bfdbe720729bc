/**
 * Keys that are planned but do not exist yet. The schema refuses them like any unknown key; `validate` says that they
 * are planned rather than misspelt. docs/configuration.md "Not yet available" lists exactly these (a test compares
 * the two), so the docs never promise a key the schema takes, nor hide one it refuses.
 */
export interface PlannedKey {
  /** Dotted path of the key; `*` stands for any one name or list index (`services.*.foo`). */
  readonly path: string;
  /** What it will do, and what happens today instead. */
  readonly what: string;
}

export const plannedKeys: readonly PlannedKey[] = [
  { path: 'drainDeadlineMs', what: 'a configurable drain deadline; a stop waits 30 s at most today' },
];

/** The planned key at this dotted path (list indexes and names as written in the file), if it is one. */
export function plannedKeyAt(path: readonly (string | number)[]): PlannedKey | undefined {
  return plannedKeys.find((planned) => {
    const parts = planned.path.split('.');
    return parts.length === path.length && parts.every((part, i) => part === '*' || part === String(path[i]));
  });
}
