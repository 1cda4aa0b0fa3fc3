import { hashObject, InputError, sha256, warehouseLayout } from '@enecg/common';
import { listRecords, readWaveforms } from '@enecg/ingest';
import { readLabels } from '@enecg/labels';
import { type PreprocessConfig, preprocessRecord } from '../preprocess/index.ts';

/**
 * What a pretraining reads, from the label table's split column and ingest's catalog alone (no waveform):
 * enough to name the pretraining, so that an identical finished one is found without reading any ECG.
 */
export interface DataSnapshot {
  trainStudies: number[];
  heldOutStudies: number[];
  /** sha256 over the sorted (study_id, content_sha256) pairs of the training records. */
  trainSha256: string;
  heldOutSha256: string;
  trainSubjects: number;
  heldOutSubjects: number;
}

/** The preprocessed ECGs ([leads x length], lead-major, ordered by study id) and those the expert could not use. */
export interface PretrainData {
  train: Float32Array[];
  heldOut: Float32Array[];
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
  const file = warehouseLayout(warehouse).labels;
  // The latest derivation's label set (readLabels refuses a warehouse without labels, naming `enecg labels`).
  const rows = (await readLabels(warehouse))
    .filter((row) => row.split === 'train')
    .map((row) => ({ study_id: row.studyId, subject_id: row.subjectId }));
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

/** The training split's studies (see `trainingStudies`) with their content digests from the catalog. */
export async function snapshotPretrainData(
  warehouse: string,
  heldOutFraction: number,
  maxRecords: number,
): Promise<DataSnapshot> {
  const studies = await trainingStudies(warehouse, heldOutFraction, maxRecords);
  const digest = async (ids: number[]) => {
    const hashes = new Map(
      ids.length === 0
        ? []
        : (await listRecords(warehouse, { studyIds: ids })).map((row) => [row.studyId, row.contentSha256]),
    );
    // Labelled studies that were never ingested (quarantined) have no waveform: they are not read.
    const kept = ids.filter((id) => hashes.has(id));
    return { kept, sha256: hashObject(kept.map((id) => [id, hashes.get(id)])) };
  };
  const train = await digest(studies.train);
  const heldOut = await digest(studies.heldOut);
  if (train.kept.length === 0) {
    throw new InputError('no ingested training-split ECG in the warehouse', {
      file: warehouseLayout(warehouse).labels,
      field: 'split',
    });
  }
  return {
    trainStudies: train.kept,
    heldOutStudies: heldOut.kept,
    trainSha256: train.sha256,
    heldOutSha256: heldOut.sha256,
    trainSubjects: studies.trainSubjects,
    heldOutSubjects: studies.heldOutSubjects,
  };
}

/**
 * Reads and preprocesses the snapshot's studies, held in memory for the whole pretraining (MOMENT's
 * default input is 24 KB per ECG; `maxRecords` bounds it).
 */
export async function loadPretrainData(
  warehouse: string,
  snapshot: DataSnapshot,
  preprocess: PreprocessConfig,
): Promise<PretrainData> {
  const skipped: PretrainData['skipped'] = [];
  const read = async (ids: number[]) => {
    const byStudy = new Map<number, Float32Array>();
    if (ids.length === 0) return [];
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
    return [...byStudy.keys()].sort((a, b) => a - b).map((id) => byStudy.get(id)!);
  };
  const train = await read(snapshot.trainStudies);
  const heldOut = await read(snapshot.heldOutStudies);
  if (train.length === 0) {
    throw new InputError('no training-split ECG this expert can use (see the skipped records)', {
      file: warehouseLayout(warehouse).labels,
      field: 'split',
    });
  }
  return { train, heldOut, skipped: skipped.sort((a, b) => a.studyId - b.studyId) };
}
