import type { FastifyBodyParser, FastifyRequest } from 'fastify';
import { InvalidRequestError } from '../platform/errors.js';
import { assertJsonDepth, decodeUtf8Strict, findLoneSurrogate, surrogateMessage } from '../platform/text.js';

type Done = (error: Error | null, body?: unknown) => void;

/**
 * The JSON body reader of every route but POST /v1/events (which reads its own). Around
 * fastify's parser (which keeps its prototype-poisoning checks) it refuses invalid UTF-8 rather
 * than reading U+FFFD, nesting deeper than MAX_JSON_DEPTH before anything recursive runs, and
 * lone surrogates anywhere in the value, which the store cannot keep.
 */
export function jsonBodyParser(parseJson: FastifyBodyParser<string>) {
  return (request: FastifyRequest, bytes: Buffer, done: Done): void => {
    let text: string;
    try {
      text = decodeUtf8Strict(bytes);
      assertJsonDepth(text);
    } catch (error) {
      done(error as Error);
      return;
    }
    const checked: Done = (error, value) => {
      if (error) {
        done(error);
        return;
      }
      const found = findLoneSurrogate(value, 'body');
      if (found) {
        done(new InvalidRequestError(surrogateMessage(found), found.path));
        return;
      }
      done(null, value);
    };
    // fastify's default parser answers synchronously through its callback.
    void parseJson.call(request.server, request, text, checked);
  };
}
