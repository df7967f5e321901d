/**
 * Every admin API response carries this header, so the command line can tell
 * the admin API from a gateway listener (or anything else) given as its --url.
 */
export const ADMIN_API_HEADER = 'latchkey-api';
