/** A form's error, read out by screen readers when it appears; nothing when there is none. */
export function FormError(props: { error: string }) {
  if (!props.error) return null;
  return (
    <p class="error" role="alert">
      {props.error}
    </p>
  );
}
