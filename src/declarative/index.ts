// Configuration as code: the latchkey.yaml format, the plan (the file against
// the server's state, field by field), apply (one audited admin API request
// per change) and export (the server's state in the same format).
export { latchkeyFile, type LatchkeyFile } from './file-format.js';
export { FileError, readLatchkeyFile, type FilePath, type LoadedFile, type Position } from './read-file.js';
export { liveHolders, readCurrent, type AdminApi, type CurrentState, type Holder } from './current.js';
export { makePlan, type Change, type FieldChange, type Plan, type PlanOptions } from './plan.js';
export { applyPlan, ApplyError, refusals } from './apply.js';
export { exportDocument, exportYaml } from './export.js';
export { renderPlan } from './render.js';
