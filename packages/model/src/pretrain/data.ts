import { existsSync } from 'node:fs';
import { hashObject, InputError, queryRows, sha256, sqlString, withDuckDB } from '@enecg/common';
import { listRecords, readWaveforms } from '@enecg/ingest';
import { labelsFile } from '@enecg/labels';
import { type PreprocessConfig, preprocessRecord } from '../preprocess/index.ts';

/** The unlabelled ECGs a pretraining reads: training-split subjects only, a held-out part of them aside. */
export interface PretrainData {
  /** Preprocessed records ([leads x length], lead-major), ordered by study id. */
  train: Float32Array[];
  heldOut: Float32Array[];
  /** What was read, for the manifest and the cache key: study ids with their content hashes, digested. */
  snapshot: DataSnapshot;
}

export interface DataSnapshot {
  /** sha256 over the sorted (study_id, content_sha256) pairs of the training records. */
  trainSha256: string;
  heldOutSha256: string;
  trainRecords: number;
  heldOutRecords: number;
  trainSubjects: number;
  heldOutSubjects: number;
  /** Records the expert could not use (a lead missing, say): left out, with the reason. */
  skipped: Array<{ studyId: number; reason: string }>;
}

/**
 * The training split's studies, read from the label table's split column alone (never a label value),
 * so that pretraining sees exactly the subjects the heads will train on and nothing of validation or
 * test. A seeded hash of the subject id sets `heldOutFraction` of them aside (at least one subject).
 */
export async function trainingStudies(
  warehouse: string,
  heldOutFraction: number,
  maxRecords: number,
): Promise<{ train: number[]; heldOut: number[]; trainSubjects: number; heldOutSubjects: number }> {
  const file = labelsFile(warehouse);
  if (!existsSync(file)) {
    throw new InputError('no label table, so no subject split: run `enecg labels` first', { file });
  }
  const rows = await withDuckDB((connection) =>
    queryRows(
      connection,
      `SELECT study_id, subject_id FROM read_parquet(${sqlString(file)}) WHERE split = 'train' ORDER BY study_id`,
    ),
  );
  if (rows.length === 0)
    throw new InputError('the label table has no training-split study', { file, field: 'split' });
  const subjects = [...new Set(rows.map((row) => Number(row.subject_id)))];
  const rank = (subject: number) => Number.parseInt(sha256(`held-out:${subject}`).slice(0, 8), 16) / 2 ** 32;
  const heldOutSubjects = new Set(subjects.filter((subject) => rank(subject) < heldOutFraction));
  if (heldOutSubjects.size === 0 && subjects.length > 1) {
    heldOutSubjects.add(subjects.reduce((best, subject) => (rank(subject) < rank(best) ? subject : best)));
  }
  const train: number[] = [];
  const heldOut: number[] = [];
  for (const row of rows)
    (heldOutSubjects.has(Number(row.subject_id)) ? heldOut : train).push(Number(row.study_id));
  const capped =
    maxRecords > 0 && train.length > maxRecords
      ? train
          .map((id) => ({ id, rank: sha256(`pretrain-record:${id}`) }))
          .sort((a, b) => (a.rank < b.rank ? -1 : 1))
          .slice(0, maxRecords)
          .map(({ id }) => id)
          .sort((a, b) => a - b)
      : train;
  return {
    train: capped,
    heldOut,
    trainSubjects: subjects.length - heldOutSubjects.size,
    heldOutSubjects: heldOutSubjects.size,
  };
}

/** Reads and preprocesses the chosen studies; memory is the preprocessed records (e.g. 24 KB each for MOMENT). */
export async function loadPretrainData(
  warehouse: string,
  preprocess: PreprocessConfig,
  heldOutFraction: number,
  maxRecords: number,
): Promise<PretrainData> {
  const studies = await trainingStudies(warehouse, heldOutFraction, maxRecords);
  const skipped: DataSnapshot['skipped'] = [];
  const read = async (ids: number[]) => {
    const byStudy = new Map<number, Float32Array>();
    if (ids.length === 0) return { records: [], digest: hashObject([]) };
    for await (const batch of readWaveforms({ warehouse, studyIds: ids, batchSize: 64 })) {
      for (const record of batch) {
        try {
          byStudy.set(record.studyId, preprocessRecord(record, preprocess));
        } catch (error) {
          if (!(error instanceof InputError)) throw error;
          skipped.push({ studyId: record.studyId, reason: error.message });
        }
      }
    }
    const kept = [...byStudy.keys()].sort((a, b) => a - b);
    const hashes = new Map(
      (await listRecords(warehouse, { studyIds: kept })).map((row) => [row.studyId, row.contentSha256]),
    );
    return {
      records: kept.map((id) => byStudy.get(id)!),
      digest: hashObject(kept.map((id) => [id, hashes.get(id) ?? null])),
    };
  };
  const train = await read(studies.train);
  const heldOut = await read(studies.heldOut);
  if (train.records.length === 0) {
    throw new InputError('no usable training-split ECG in the warehouse for this expert', {
      file: labelsFile(warehouse),
      field: 'split',
    });
  }
  return {
    train: train.records,
    heldOut: heldOut.records,
    snapshot: {
      trainSha256: train.digest,
      heldOutSha256: heldOut.digest,
      trainRecords: train.records.length,
      heldOutRecords: heldOut.records.length,
      trainSubjects: studies.trainSubjects,
      heldOutSubjects: studies.heldOutSubjects,
      skipped: skipped.sort((a, b) => a.studyId - b.studyId),
    },
  };
}
