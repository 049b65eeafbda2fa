/** The shape of `src/gen/schema-data.ts`: the `.fbs` as data (see scripts/gen.mjs). */
export interface SchemaField {
  name: string;
  /** `int`, `ubyte`, `string`, an enum/table/union name, or `[T]` for a vector. */
  type: string;
  /** The schema default as written in the `.fbs` (number, `true`/`false`, or an enum value name). */
  default?: string;
  deprecated?: boolean;
}

export interface SchemaData {
  fileIdentifier: string;
  rootType: string;
  enums: Record<string, { base: string; values: [string, number][] }>;
  unions: Record<string, string[]>;
  tables: Record<string, SchemaField[]>;
}
