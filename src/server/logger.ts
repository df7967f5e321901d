import pino, { type Logger } from 'pino';

// JSON logs on stderr (stdout is for what a person reads: where we listen,
// tokens printed once). Anything that could hold a secret is redacted by path.
export function createLogger(level: string, destination: NodeJS.WritableStream = process.stderr): Logger {
  return pino(
    {
      level,
      base: { pid: process.pid },
      redact: {
        paths: [
          'token', '*.token', 'secret', '*.secret', 'password', '*.password',
          'headers.authorization', '*.headers.authorization', 'headers.cookie', '*.headers.cookie',
          'req.headers.authorization', 'req.headers.cookie', 'adminToken', 'credential', '*.credential',
        ],
        censor: '[redacted]',
      },
    },
    destination as pino.DestinationStream,
  );
}
