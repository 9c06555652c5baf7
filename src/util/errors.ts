// Errors a user caused (bad flag, missing file, corrupt data, incompatible checkpoint). The CLI prints
// their message as one line on stderr and exits non-zero; anything else is a bug and prints a stack.
/** Bad input from the user (a flag, a file, a value): its message is one line that names the problem. */
export class UserError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UserError";
  }
}
