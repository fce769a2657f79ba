/** An OAuth 2.0 error (RFC 6749 §5.2 / §4.1.2.1): answered as JSON `{error, error_description}` or as an `error=` redirect. */
export class OAuthError extends Error {
  constructor(
    readonly error:
      | 'invalid_request'
      | 'invalid_client'
      | 'invalid_grant'
      | 'unauthorized_client'
      | 'unsupported_grant_type'
      | 'invalid_scope'
      | 'access_denied'
      | 'unsupported_response_type'
      | 'server_error'
      | 'invalid_token',
    readonly description: string,
    readonly status = error === 'invalid_client' ? 401 : 400
  ) {
    super(description);
  }

  toJSON(): { error: string; error_description: string } {
    return { error: this.error, error_description: this.description };
  }
}
