import { readFile } from 'node:fs/promises';
import { IntegrityError, sha256 } from '@enecg/common';

/** The version of the label rules in sql/labels.sql; the file states the same version in its header. */
export const LABEL_VERSION = '1.0.0';

export const LABEL_RULES_PATH = new URL('../sql/labels.sql', import.meta.url);

export interface LabelRules {
  version: string;
  /** The SQL text exactly as run and as stored in lineage. */
  sql: string;
  sha256: string;
}

/** Loads the rule text and refuses it when its stated version is not the one this code was built for. */
export async function loadLabelRules(): Promise<LabelRules> {
  const sql = await readFile(LABEL_RULES_PATH, 'utf8');
  const stated = /^-- label_version: (\S+)$/m.exec(sql)?.[1];
  if (stated !== LABEL_VERSION) {
    throw new IntegrityError(
      `the rule file states label_version ${stated ?? '(none)'} but the code expects ${LABEL_VERSION}`,
      LABEL_RULES_PATH.pathname,
    );
  }
  return { version: LABEL_VERSION, sql, sha256: sha256(sql) };
}
