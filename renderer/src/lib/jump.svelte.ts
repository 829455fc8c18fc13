/** The message a search result asked to show (issue #20): the room screen scrolls to it, then clears it. */
export const jump = $state<{ eventId: string | null }>({ eventId: null });
