export { repositoryRoot, toolsDir, workDir } from '@enecg/common';
