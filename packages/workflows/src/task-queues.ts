/** Every activity can run here. */
export const CPU_TASK_QUEUE = 'enecg-cpu';
/** Feature caching goes here when a GPU worker is polling it (see `chooseFeatureQueue`). */
export const GPU_TASK_QUEUE = 'enecg-gpu';

/** The pseudo-expert whose cached "features" are the gate's input leads (see @enecg/model). */
export const GATE_INPUT_EXPERT = 'raw-leads';
