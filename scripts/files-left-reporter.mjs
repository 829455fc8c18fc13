/**
 * A vitest reporter for scripts/test.mjs: writes how many of the run's test files have not ended
 * yet, one number a line, to the file descriptor named by PARACORD_FILES_LEFT_FD (the script reads
 * it to start its next runs while this one's last files end). Writes nothing without that variable.
 */
import { writeSync } from 'node:fs';

const fd = Number(process.env.PARACORD_FILES_LEFT_FD);

export default class FilesLeftReporter {
  left = 0;

  say() {
    if (!Number.isInteger(fd) || fd < 3) return;
    try {
      writeSync(fd, `${this.left}\n`);
    } catch {
      // the reader went away: nothing to tell
    }
  }

  onTestRunStart(specifications) {
    this.left = specifications.length;
    this.say();
  }

  onTestModuleEnd() {
    this.left = Math.max(0, this.left - 1);
    this.say();
  }
}
